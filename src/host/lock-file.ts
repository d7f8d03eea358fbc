/**
 * Lock files (O_EXCL) naming their holder by pid and pid namespace. A holder
 * whose process is gone loses the lock; a holder in another pid namespace (a
 * rootless build) cannot be looked up, so its lock counts only while the
 * holder keeps touching it (every 10 s; stale after 60 s).
 */
import { constants, readFileSync, readlinkSync } from 'node:fs';
import { lutimes, mkdir, open, rm } from 'node:fs/promises';
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

/**
 * What a lock file says: holder pid, its pid namespace and when it was last
 * touched. Read without following a link and without blocking (a FIFO
 * planted as a lock cannot hang us); anything but a regular file is no lock.
 */
export async function readLock(file: string): Promise<{ pid: number; ns: string; mtimeMs: number } | undefined> {
  const fh = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK).catch(() => undefined);
  if (!fh) return undefined;
  try {
    const st = await fh.stat();
    if (!st.isFile() || st.size > 4096) return undefined;
    const [pid, ns = ''] = (await fh.readFile('utf8')).split(' ');
    return Number(pid) > 0 ? { pid: Number(pid), ns, mtimeMs: st.mtimeMs } : undefined;
  } finally {
    await fh.close();
  }
}

/** The holder's pid while the lock is live, else undefined (no lock, or a stale one). */
export async function lockHolder(file: string): Promise<number | undefined> {
  const lock = await readLock(file).catch(() => undefined);
  if (!lock) return undefined;
  if (lock.ns === pidNamespace()) return alive(lock.pid) ? lock.pid : undefined;
  return Date.now() - lock.mtimeMs <= 60000 ? lock.pid : undefined;
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
      const beat = setInterval(() => void lutimes(file, new Date(), new Date()).catch(() => undefined), 10000);
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
