/**
 * A host directory tree as file edits (what `overlay` copies): one walk, one
 * set of rules, for both appliers. Regular files, directories and symlinks
 * keep their modes; what could be an attack on the image — setuid/setgid
 * files, device nodes and fifos, hard links — is refused unless allowed
 * (host/copy-tree checkSpecial), and then described as it is; sockets are
 * always refused.
 */
import { lstat, readdir, readlink } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { checkSpecial, type Special } from '../host/copy-tree.js';
import { dir, type FileEdit, type Owner } from './model.js';
import { applyTreeEdits } from './tree.js';

export interface HostTreeOptions {
  owner: Owner;
  allow?: readonly Special[];
}

/** Linux's major and minor of a device number. */
const major = (rdev: number) => ((rdev >>> 8) & 0xfff) | (Math.floor(rdev / 2 ** 32) & ~0xfff);
const minor = (rdev: number) => (rdev & 0xff) | ((rdev >>> 12) & 0xfff00);

/** Edits that copy everything under `src` to `dest` (not `dest` itself), in walk order: a directory before what is in it. */
export async function hostTreeEdits(src: string, dest: string, o: HostTreeOptions): Promise<FileEdit[]> {
  const edits: FileEdit[] = [];
  const linked = new Map<string, string>();
  const owner = o.owner;
  const walk = async (rel: string): Promise<void> => {
    for (const name of (await readdir(join(src, rel))).sort()) {
      const from = join(src, rel, name);
      const path = posix.join(dest, rel, name);
      const st = await lstat(from);
      checkSpecial(from, st, o.allow);
      const key = `${st.dev}:${st.ino}`;
      if (st.isDirectory()) {
        edits.push({ kind: 'dir', path, mode: st.mode & 0o7777, owner });
        await walk(join(rel, name));
      } else if (st.isFile() && st.nlink > 1 && linked.has(key)) edits.push({ kind: 'hardlink', path, to: linked.get(key)!, owner });
      else if (st.isFile()) {
        edits.push({ kind: 'file', path, content: { hostFile: from }, mode: st.mode & 0o7777, owner, link: 'replace' });
        if (st.nlink > 1) linked.set(key, path);
      } else if (st.isSymbolicLink()) edits.push({ kind: 'symlink', path, target: await readlink(from), owner });
      else {
        const type = st.isCharacterDevice() ? 'char' : st.isBlockDevice() ? 'block' : 'fifo';
        edits.push({ kind: 'device', path, type, major: major(st.rdev), minor: minor(st.rdev), mode: st.mode & 0o7777, owner });
      }
    }
  };
  await walk('');
  return edits;
}

/** Copy the tree at `src` into `root` at `dest` (made when missing); returns how many entries were copied. */
export async function copyTreeIntoRoot(src: string, root: string, dest: string, o: Owner & { allow?: readonly Special[] }): Promise<number> {
  const edits = await hostTreeEdits(src, dest, { owner: { uid: o.uid, gid: o.gid }, allow: o.allow });
  await applyTreeEdits(root, [dir(dest), ...edits]);
  return edits.length;
}
