/** Mounting and unmounting, with a lazy fallback when a mount stays busy. */
import { exec, type ExecOptions } from './exec.js';
import { CommandError } from '../errors.js';
import { stopProcessesIn } from './procs.js';
import { redact } from './secrets.js';

export async function mount(source: string, target: string, args: string[] = [], opts: ExecOptions = {}): Promise<void> {
  await exec('mount', [...args, source, target], opts);
}

/**
 * Unmount `target` and everything below it. Processes still using it (root,
 * cwd or open files below it) are killed first, with a warning naming them.
 * Retries a few times when busy (a process still exiting), then detaches
 * lazily so nothing stays mounted.
 */
export async function unmount(target: string, opts: ExecOptions & { warn?: (line: string) => void } = {}): Promise<void> {
  const { warn = (l: string) => void process.stderr.write(`${redact(l)}\n`), ...execOpts } = opts;
  // One that survives SIGKILL fails the unmount, after the mount is detached all the same.
  const survivor = await stopProcessesIn(target, warn).then(
    () => undefined,
    (e: unknown) => e,
  );
  await unmountTree(target, execOpts);
  if (survivor) throw survivor;
}

async function unmountTree(target: string, execOpts: ExecOptions): Promise<void> {
  let lastError: unknown;
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      await exec('umount', ['--recursive', target], { ...execOpts, signal: undefined });
      return;
    } catch (e) {
      lastError = e;
      if (!(e instanceof CommandError) || !/busy/i.test(e.message)) break;
      await new Promise((r) => setTimeout(r, 200 * (attempt + 1)));
    }
  }
  // umount --recursive can trip over a submount it cannot name (a bind of a
  // tree with symlinked or stacked mounts); a lazy detach takes the whole tree.
  if (!(await isMountPoint(target))) return;
  await exec('umount', ['--lazy', target], { ...execOpts, signal: undefined }).catch(() => {
    throw lastError;
  });
}

export async function isMountPoint(path: string): Promise<boolean> {
  const r = await exec('mountpoint', ['-q', path], { reject: false, signal: undefined });
  return r.exitCode === 0;
}
