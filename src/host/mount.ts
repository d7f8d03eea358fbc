/** Mounting and unmounting, with a lazy fallback when a mount stays busy. */
import { exec, type ExecOptions } from './exec.js';
import { CommandError } from '../errors.js';

export async function mount(source: string, target: string, args: string[] = [], opts: ExecOptions = {}): Promise<void> {
  await exec('mount', [...args, source, target], opts);
}

/**
 * Unmount `target` and everything below it. Retries a few times when busy
 * (a process still exiting), then detaches lazily so nothing stays mounted.
 */
export async function unmount(target: string, opts: ExecOptions = {}): Promise<void> {
  let lastError: unknown;
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      await exec('umount', ['--recursive', target], { ...opts, signal: undefined });
      return;
    } catch (e) {
      lastError = e;
      if (!(e instanceof CommandError) || !/busy/i.test(e.message)) break;
      await new Promise((r) => setTimeout(r, 200 * (attempt + 1)));
    }
  }
  if (lastError instanceof CommandError && /not mounted|no mount point/i.test(lastError.message)) return;
  await exec('umount', ['--recursive', '--lazy', target], { ...opts, signal: undefined }).catch(() => {
    throw lastError;
  });
}
