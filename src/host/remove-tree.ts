/**
 * Remove a temporary tree that may still have mounts below it (a killed
 * debootstrap leaves its /proc and /sys mounted in the target): unmount
 * those, deepest first, then `rm -rf --one-file-system`, which never crosses
 * into a mount it did not see.
 */
import { access } from 'node:fs/promises';
import { exec } from './exec.js';
import { unmount } from './mount.js';

export async function mountsBelow(path: string): Promise<string[]> {
  const { stdout } = await exec('findmnt', ['--list', '--noheadings', '--output', 'TARGET'], { reject: false, signal: undefined });
  return stdout
    .split('\n')
    .filter((m) => m.startsWith(`${path}/`))
    .sort((a, b) => b.length - a.length);
}

export async function removeTree(path: string, log: (line: string) => void = () => undefined): Promise<void> {
  for (const m of await mountsBelow(path)) {
    await unmount(m);
    log(`unmounted ${m}`);
  }
  if (await access(path).then(() => false, () => true)) return;
  await exec('rm', ['-rf', '--one-file-system', path], { signal: undefined });
  log(`removed ${path}`);
}
