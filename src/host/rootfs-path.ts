/**
 * Paths inside a root filesystem, resolved the way chroot would: a symlink
 * (absolute or relative) never leads out of the root, and `..` stops at it.
 * Every write umlbuild does into a rootfs goes through here.
 */
import { lstat, readlink, mkdir, open, rm, symlink, constants } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { UserError } from '../errors.js';

const MAX_LINKS = 40;

/**
 * Resolve `path` (absolute inside the guest) against `root` on the host.
 * Symlinks are followed inside the root, including the last component unless
 * `followLast` is false. Missing components are fine: the rest is appended.
 */
export async function resolveInRoot(root: string, path: string, followLast = true): Promise<string> {
  const guest = await resolveGuestPath(root, path, followLast);
  return guest === '/' ? root : join(root, guest);
}

/** Like resolveInRoot, but the absolute path as the guest sees it. */
export async function resolveGuestPath(root: string, path: string, followLast = true): Promise<string> {
  const todo = splitPath(path);
  const done: string[] = [];
  let links = 0;
  while (todo.length) {
    const part = todo.shift()!;
    if (part === '..') {
      done.pop();
      continue;
    }
    const candidate = join(root, ...done, part);
    const isLast = todo.length === 0;
    const st = await lstat(candidate).catch(() => undefined);
    if (st?.isSymbolicLink() && (followLast || !isLast)) {
      if (++links > MAX_LINKS) throw new UserError(`too many levels of symbolic links resolving ${path} in ${root}`);
      const target = await readlink(candidate);
      if (target.startsWith('/')) done.length = 0;
      todo.unshift(...splitPath(target));
      continue;
    }
    done.push(part);
    if (!st) {
      // Nothing exists past here: the rest can only be created, never followed.
      for (const p of todo)
        if (p === '..') done.pop();
        else done.push(p);
      break;
    }
  }
  return `/${done.join('/')}`;
}

function splitPath(p: string): string[] {
  return p.split('/').filter((s) => s && s !== '.');
}

/** Create a directory (and parents) inside the root; returns its host path. */
export async function mkdirInRoot(root: string, path: string, mode = 0o755, depth = 0): Promise<string> {
  if (depth > MAX_LINKS) throw new UserError(`too many levels of symbolic links creating ${path} in ${root}`);
  let cur = '/';
  let host = root;
  for (const part of splitPath(path)) {
    cur = posix.join(cur, part);
    const guest = await resolveGuestPath(root, cur);
    host = guest === '/' ? root : join(root, guest);
    const st = await lstat(host).catch(() => undefined);
    if (!st) {
      // A link may point at a directory whose parents do not exist yet.
      if (guest !== cur) await mkdirInRoot(root, posix.dirname(guest), mode, depth + 1);
      await mkdir(host, { mode });
    } else if (!st.isDirectory()) throw new UserError(`${cur} exists in the rootfs and is not a directory`);
  }
  return host;
}

export interface WriteOptions {
  mode?: number;
  uid?: number;
  gid?: number;
  /** Access and modification time, set on the open file (never through a link). */
  time?: Date;
}

/** Write a file inside the root, following links only within it. */
export async function writeFileInRoot(root: string, path: string, content: string | Buffer, opts: WriteOptions = {}): Promise<string> {
  const guest = await resolveGuestPath(root, path);
  await mkdirInRoot(root, posix.dirname(guest));
  const host = join(root, guest);
  // O_NOFOLLOW: if a link appeared after resolving, fail rather than follow it out.
  const fh = await open(host, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW, opts.mode ?? 0o644);
  try {
    await fh.writeFile(content);
    await fh.chmod(opts.mode ?? 0o644);
    if (opts.uid !== undefined) await fh.chown(opts.uid, opts.gid ?? opts.uid);
    if (opts.time) await fh.utimes(opts.time, opts.time);
  } finally {
    await fh.close();
  }
  return host;
}

/** Create (or replace) a symlink inside the root; the link itself is never followed. */
export async function symlinkInRoot(root: string, path: string, target: string): Promise<string> {
  const guest = posix.normalize(`/${path}`);
  const parent = await mkdirInRoot(root, posix.dirname(guest));
  const host = join(parent, posix.basename(guest));
  await rm(host, { force: true });
  await symlink(target, host);
  return host;
}

/**
 * Remove `path` inside the root (recursively, when a directory), resolving
 * its parents inside the root at the moment of removal: a link at `path` is
 * removed itself, and a link above it never leads the removal onto the host.
 */
export async function removeInRoot(root: string, path: string): Promise<void> {
  const guest = await resolveGuestPath(root, path, false);
  if (guest === '/') throw new Error(`refusing to remove the root ${root}`);
  await rm(join(root, guest), { force: true, recursive: true });
}

/**
 * Read a regular file inside the root, resolved as chroot would; undefined
 * when it is missing or anything else (a FIFO would block, a device node such
 * as a tree's own dev/zero would never end). Opened without following a link
 * or blocking, and checked again on the open descriptor.
 */
export async function readFileInRoot(root: string, path: string): Promise<Buffer | undefined> {
  const host = await resolveInRoot(root, path);
  const fh = await open(host, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK).catch(() => undefined);
  if (!fh) return undefined;
  try {
    return (await fh.stat()).isFile() ? await fh.readFile() : undefined;
  } finally {
    await fh.close();
  }
}
