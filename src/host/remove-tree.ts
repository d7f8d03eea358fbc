/**
 * Remove a temporary tree that may still have mounts below it (a killed
 * debootstrap leaves its /proc and /sys mounted in the target): unmount
 * those, deepest first, then `rm -rf --one-file-system`, which never crosses
 * into a mount it did not see. A link in the tree's place is removed itself,
 * never followed (and nothing is unmounted for it).
 */
import { lstat, rm } from 'node:fs/promises';
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
  const st = await lstat(path).catch(() => undefined);
  if (!st) return;
  if (!st.isDirectory()) {
    await rm(path, { force: true });
    log(`removed ${path}`);
    return;
  }
  for (const m of await mountsBelow(path)) {
    await unmount(m);
    log(`unmounted ${m}`);
  }
  await exec('rm', ['-rf', '--one-file-system', path], { signal: undefined });
  log(`removed ${path}`);
}
