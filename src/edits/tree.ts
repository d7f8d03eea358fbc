/**
 * The tree applier: carries out file edits on a root directory. All of the
 * symlink-safety of an edit lives here: every path is resolved inside the
 * root (host/rootfs-path: a link, absolute or relative, never leads out of
 * it; `..` stops at it); what an edit creates is created fresh (never
 * through an existing name), and modes and owners are set on the open file
 * or on the link itself, never through one.
 */
import { constants, copyFile, lchown, link, lstat, mkdir, open, readFile, rm, symlink } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { UserError } from '../errors.js';
import { exec } from '../host/exec.js';
import { mkdirInRoot, readFileInRoot, removeInRoot, resolveGuestPath, resolveInRoot, writeFileInRoot } from '../host/rootfs-path.js';
import { assertEdits, type EditStat, type EditTarget, type FileEdit, isHostFile, type Owner } from './model.js';

/** Read-only view of a root tree (links followed inside it). */
export function treeTarget(root: string): EditTarget {
  return {
    readFile: async (path) => (await readFileInRoot(root, path))?.toString('utf8'),
    async stat(path): Promise<EditStat | undefined> {
      const st = await lstat(await resolveInRoot(root, path)).catch(() => undefined);
      if (!st) return undefined;
      const type = st.isFile() ? 'regular' : st.isDirectory() ? 'directory' : st.isSymbolicLink() ? 'symlink' : 'other';
      return { type, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid };
    },
  };
}

/** Apply `edits` in order to the tree at `root`; returns how many were applied. */
export async function applyTreeEdits(root: string, edits: readonly FileEdit[], opts: { signal?: AbortSignal } = {}): Promise<number> {
  assertEdits(edits);
  for (const e of edits) await applyOne(root, e, opts);
  return edits.length;
}

/** Where a new entry at `path` goes on the host: its parent resolved (and made) inside the root, the name itself not followed. */
async function place(root: string, path: string): Promise<{ guest: string; host: string }> {
  const normal = posix.normalize(path);
  await mkdirInRoot(root, posix.dirname(normal));
  const guest = posix.join(await resolveGuestPath(root, posix.dirname(normal)), posix.basename(normal));
  return { guest, host: guest === '/' ? root : join(root, guest) };
}

/** Set owner (when given) and mode on `host` without following a link that may have appeared there. */
async function finish(host: string, owner: Owner | undefined, mode: number | undefined, directory = false): Promise<void> {
  const fh = await open(host, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK | (directory ? constants.O_DIRECTORY : 0));
  try {
    // Owner first: a chown clears setuid and setgid bits.
    if (owner) await fh.chown(owner.uid, owner.gid);
    if (mode !== undefined) await fh.chmod(mode & 0o7777);
  } finally {
    await fh.close();
  }
}

async function applyOne(root: string, e: FileEdit, opts: { signal?: AbortSignal }): Promise<void> {
  if (e.kind === 'remove') return removeInRoot(root, e.path);
  if (e.kind === 'file' && e.link === 'follow') {
    const content = isHostFile(e.content) ? await readFile(e.content.hostFile) : e.content;
    await writeFileInRoot(root, e.path, content, { mode: e.mode, ...(e.owner ?? {}) });
    return;
  }
  const { guest, host } = await place(root, e.path);
  const existing = await lstat(host).catch(() => undefined);
  if (e.kind === 'dir') {
    // A link there is followed inside the root; a directory there keeps its owner and mode.
    if (existing?.isSymbolicLink()) await mkdirInRoot(root, guest);
    else if (existing && !existing.isDirectory()) throw new UserError(`${guest} exists in the rootfs and is not a directory`);
    else if (!existing) {
      await mkdir(host, { mode: 0o700 });
      await finish(host, e.owner, e.mode, true);
    }
    return;
  }
  if (existing) await rm(host, { force: true });
  if (e.kind === 'file') {
    if (isHostFile(e.content)) await copyFile(e.content.hostFile, host, constants.COPYFILE_EXCL);
    else {
      const fh = await open(host, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
      await fh.writeFile(e.content).finally(() => fh.close());
    }
    await finish(host, e.owner, e.mode);
  } else if (e.kind === 'symlink') {
    await symlink(e.target, host);
    if (e.owner) await lchown(host, e.owner.uid, e.owner.gid);
  } else if (e.kind === 'hardlink') {
    // linkat without following: a link at `to` is linked itself, never its target.
    await link(await resolveInRoot(root, e.to, false), host);
  } else {
    const node = e.type === 'fifo' ? ['p'] : [e.type === 'char' ? 'c' : 'b', String(e.major), String(e.minor)];
    await exec('mknod', ['-m', (e.mode & 0o7777).toString(8), '--', host, ...node], { signal: opts.signal });
    if (e.owner) await lchown(host, e.owner.uid, e.owner.gid);
  }
}
