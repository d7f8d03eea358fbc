/**
 * Copy a host directory tree into a rootfs. Every destination is resolved
 * inside the root (links in the image never lead out of it), so this needs no
 * tool inside the image. Regular files, directories and symlinks are copied
 * with their modes. What could be an attack on the image — setuid/setgid
 * files, device nodes and fifos, hard links — is refused unless the recipe
 * allows it (`allow: [setuid, devices, hardlinks]`), and then copied
 * faithfully; sockets are always refused.
 */
import type { Stats } from 'node:fs';
import { copyFile, chmod, lchown, link, lstat, mkdir, readdir, readlink, rm, symlink } from 'node:fs/promises';
import { exec } from './exec.js';
import { join, posix } from 'node:path';
import { UserError } from '../errors.js';
import { mkdirInRoot, resolveGuestPath } from './rootfs-path.js';

export type Special = 'setuid' | 'devices' | 'hardlinks';

export interface CopyOptions {
  uid: number;
  gid: number;
  allow?: readonly Special[];
}

/** Refuse what the recipe did not allow, with what to add to allow it. */
export function checkSpecial(from: string, st: Stats, allow: readonly Special[] = [], step = 'overlay'): void {
  const refuse = (what: string, kind: Special) => {
    if (!allow.includes(kind)) throw new UserError(`${step}: ${from} ${what}; add "allow: [${kind}]" to the ${step} step to copy it as it is`);
  };
  if (st.isSocket()) throw new UserError(`${step}: ${from} is a socket; ${step} never copies sockets`);
  if (st.isCharacterDevice() || st.isBlockDevice() || st.isFIFO()) refuse('is a device node or fifo', 'devices');
  if (st.mode & 0o6000 && !st.isDirectory()) refuse('is setuid or setgid', 'setuid');
  if (st.isFile() && st.nlink > 1) refuse(`is a hard link (${st.nlink} names)`, 'hardlinks');
}

export async function copyTreeIntoRoot(src: string, root: string, dest: string, o: CopyOptions): Promise<number> {
  await mkdirInRoot(root, dest);
  let count = 0;
  const linked = new Map<string, string>();
  const walk = async (rel: string): Promise<void> => {
    for (const name of (await readdir(join(src, rel))).sort()) {
      const from = join(src, rel, name);
      const st = await lstat(from);
      // Resolve the parent inside the root; the entry itself is never followed.
      const parent = await resolveGuestPath(root, posix.join(dest, rel));
      const guest = posix.join(parent, name);
      const to = join(root, guest);
      const existing = await lstat(to).catch(() => undefined);
      checkSpecial(from, st, o.allow);
      if (st.isDirectory()) {
        // A directory the image already has keeps its owner and mode.
        if (existing?.isSymbolicLink()) await mkdirInRoot(root, guest);
        else if (existing && !existing.isDirectory()) throw new UserError(`overlay: ${guest} exists in the rootfs and is not a directory`);
        else if (!existing) {
          await mkdir(to);
          await lchown(to, o.uid, o.gid);
          await chmod(to, st.mode & 0o7777);
        }
        await walk(join(rel, name));
      } else if (st.isFile() && st.nlink > 1 && linked.has(`${st.dev}:${st.ino}`)) {
        if (existing) await rm(to, { force: true });
        await link(linked.get(`${st.dev}:${st.ino}`)!, to);
      } else if (st.isFile() || st.isSymbolicLink()) {
        if (existing) await rm(to, { force: true });
        if (st.isFile()) await copyFile(from, to);
        else await symlink(await readlink(from), to);
        await lchown(to, o.uid, o.gid);
        if (st.isFile()) await chmod(to, st.mode & 0o7777);
        if (st.isFile() && st.nlink > 1) linked.set(`${st.dev}:${st.ino}`, to);
      } else {
        if (existing) await rm(to, { force: true });
        // A device node or fifo (allowed): cp -a makes the same node.
        await exec('cp', ['-a', '--no-dereference', '--', from, to]);
        await lchown(to, o.uid, o.gid);
      }
      count++;
    }
  };
  await walk('');
  return count;
}
