/**
 * Tools that write whole trees (tar, cp -a, depmod, make modules_install)
 * follow the links they find at their destination, and a root tree made
 * elsewhere can have any links (`lib/modules -> /etc`). So they never write
 * into the tree itself: they fill a fresh, empty staging directory that
 * umlbuild has just created (no link can be there but their own), what they
 * made is checked, and then moved into the tree with every destination
 * resolved inside the root (rootfs-path), the way chroot would.
 *
 * GNU tar unpacking into an empty directory stays inside it: it strips
 * leading `/`, refuses members with `..`, and creates links that are
 * absolute or climb with `..` only after every other member (a placeholder
 * file until then, so nothing is written through them).
 */
import type { Stats } from 'node:fs';
import { chmod, lchown, lstat, mkdtemp, readdir, rename, rm } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { UserError } from '../errors.js';
import { checkSpecial, type Special } from './copy-tree.js';
import { mkdirInRoot, resolveGuestPath } from './rootfs-path.js';

export const STAGE_PREFIX = '.umlbuild-stage-';

export interface StageOptions {
  /** Where the staged tree goes, inside the root (default /). */
  dest?: string;
  /** Check every staged entry (copy-tree checkSpecial) and allow these; undefined: no check (trusted content). */
  allow?: readonly Special[];
  /** The step named in errors. */
  step: string;
  /** Give the destination directory the staged top directory's owner and mode (tar and cp -a of `DIR/.` do). */
  topAttributes?: boolean;
}

/**
 * Let `fill` write into a fresh directory, check what it wrote, then move it
 * into `root` at `dest`. The staging directory is inside the root (so the
 * move is a rename on the same filesystem) and removed in every case.
 * Returns the number of entries moved or merged.
 */
export async function stageIntoRoot(root: string, fill: (staging: string) => Promise<void>, o: StageOptions): Promise<number> {
  // mkdtemp: a new directory (mode 0700) or an error, never an existing one or a link.
  const staging = await mkdtemp(join(root, STAGE_PREFIX));
  try {
    await fill(staging);
    if (o.allow) await checkTree(staging, o.allow, o.step);
    const dest = o.dest ?? '/';
    const base = await mkdirInRoot(root, dest);
    if (o.topAttributes) {
      const top = await lstat(staging);
      await lchown(base, top.uid, top.gid);
      await chmod(base, top.mode & 0o7777);
    }
    return await mergeIntoRoot(staging, root, dest, o.step);
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

/** Refuse (UserError) device nodes, fifos, sockets, setuid files and hard links not in `allow`. */
export async function checkTree(dir: string, allow: readonly Special[], step: string, rel = ''): Promise<void> {
  for (const name of await readdir(join(dir, rel))) {
    const st = await lstat(join(dir, rel, name));
    checkSpecial(posix.join('/', rel, name), st, allow, step);
    if (st.isDirectory()) await checkTree(dir, allow, step, join(rel, name));
  }
}

/**
 * Move every entry of `src` into `dest` inside `root`: the parent of each
 * destination is resolved inside the root, the entry itself is never
 * followed (a link there is replaced, not written through). A directory that
 * exists in the tree (or a link to one, resolved inside the root) is merged
 * into and keeps its owner and mode; anything else missing is renamed whole.
 */
export async function mergeIntoRoot(src: string, root: string, dest: string, step: string): Promise<number> {
  let count = 0;
  const walk = async (from: string, guestDir: string): Promise<void> => {
    for (const name of (await readdir(from)).sort()) {
      const entry = join(from, name);
      const st: Stats = await lstat(entry);
      const guest = posix.join(await resolveGuestPath(root, guestDir), name);
      const to = join(root, guest);
      const existing = await lstat(to).catch(() => undefined);
      count++;
      if (st.isDirectory() && existing) {
        if (existing.isSymbolicLink()) await mkdirInRoot(root, guest);
        else if (!existing.isDirectory()) throw new UserError(`${step}: ${guest} exists in the rootfs and is not a directory`);
        await walk(entry, guest);
        continue;
      }
      if (existing?.isDirectory()) throw new UserError(`${step}: ${guest} is a directory in the rootfs; it cannot be replaced by a ${st.isSymbolicLink() ? 'link' : 'file'}`);
      // rename() replaces a file or link at `to` without following it.
      try {
        await rename(entry, to);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EXDEV') throw new UserError(`${step}: ${guest} is on another filesystem mounted inside the rootfs; unmount it first`);
        throw e;
      }
    }
  };
  await walk(src, dest);
  return count;
}
