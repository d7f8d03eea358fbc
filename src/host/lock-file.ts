/**
 * Lock files (O_EXCL) naming their holder by pid and pid namespace. A holder
 * whose process is gone loses the lock; a holder in another pid namespace (a
 * rootless build) cannot be looked up, so its lock counts only while the
 * holder keeps touching it (every 10 s; stale after 60 s).
 */
import { readFileSync, readlinkSync } from 'node:fs';
import { mkdir, open, readFile, rm, stat, utimes } from 'node:fs/promises';
import { dirname } from 'node:path';

export function pidNamespace(): string {
  try {
    return readlinkSync('/proc/self/ns/pid');
  } catch {
    return '';
  }
}

/** Whether `pid` runs (a zombie, dead but not yet reaped, does not). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    return !/^\d+ \(.*\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true;
  }
}

/** The holder's pid while the lock is live, else undefined (no lock, or a stale one). */
export async function lockHolder(file: string): Promise<number | undefined> {
  const text = await readFile(file, 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  const [pid, ns = ''] = text.split(' ');
  if (!Number(pid)) return undefined;
  if (ns === pidNamespace()) return alive(Number(pid)) ? Number(pid) : undefined;
  const st = await stat(file).catch(() => undefined);
  return st && Date.now() - st.mtimeMs <= 60000 ? Number(pid) : undefined;
}

/**
 * Take the lock. `wait`: wait while a live holder has it (else return the
 * holder's pid at once). Returns the release function, or the holder's pid.
 */
export async function acquireLock(file: string, opts: { wait: boolean; signal?: AbortSignal }): Promise<{ release: () => Promise<void> } | { heldBy: number }> {
  await mkdir(dirname(file), { recursive: true });
  for (;;) {
    if (opts.signal?.aborted) throw opts.signal.reason;
    try {
      const fh = await open(file, 'wx');
      await fh.writeFile(`${process.pid} ${pidNamespace()}`);
      await fh.close();
      const beat = setInterval(() => void utimes(file, new Date(), new Date()).catch(() => undefined), 10000);
      beat.unref();
      return {
        release: () => {
          clearInterval(beat);
          return rm(file, { force: true });
        },
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const holder = await lockHolder(file);
      if (holder === undefined) await rm(file, { force: true });
      else if (!opts.wait) return { heldBy: holder };
      else await new Promise((r) => setTimeout(r, 500));
    }
  }
}
