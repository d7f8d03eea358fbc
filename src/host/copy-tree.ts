/**
 * Copy a host directory tree into a rootfs. Every destination is resolved
 * inside the root (links in the image never lead out of it), so this needs no
 * tool inside the image. Regular files, directories and symlinks are copied
 * with their modes; anything else (device nodes, fifos, sockets) is refused.
 */
import { copyFile, chmod, lchown, lstat, mkdir, readdir, readlink, rm, symlink } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { UserError } from '../errors.js';
import { mkdirInRoot, resolveGuestPath } from './rootfs-path.js';

export interface CopyOptions {
  uid: number;
  gid: number;
}

export async function copyTreeIntoRoot(src: string, root: string, dest: string, o: CopyOptions): Promise<number> {
  await mkdirInRoot(root, dest);
  let count = 0;
  const walk = async (rel: string): Promise<void> => {
    for (const name of (await readdir(join(src, rel))).sort()) {
      const from = join(src, rel, name);
      const st = await lstat(from);
      // Resolve the parent inside the root; the entry itself is never followed.
      const parent = await resolveGuestPath(root, posix.join(dest, rel));
      const guest = posix.join(parent, name);
      const to = join(root, guest);
      const existing = await lstat(to).catch(() => undefined);
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
      } else if (st.isFile() || st.isSymbolicLink()) {
        if (existing) await rm(to, { force: true });
        if (st.isFile()) await copyFile(from, to);
        else await symlink(await readlink(from), to);
        await lchown(to, o.uid, o.gid);
        if (st.isFile()) await chmod(to, st.mode & 0o7777);
      } else {
        throw new UserError(`overlay: ${from} is a device node, fifo or socket; overlays copy only files, directories and symlinks`);
      }
      count++;
    }
  };
  await walk('');
  return count;
}
