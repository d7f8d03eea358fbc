/**
 * A content-addressed digest of a directory tree, for cache keys of inputs
 * copied from a directory (rootfs-dir, modules): every entry's path, type,
 * mode, owner, mtime and, by type, its contents' sha256, link target, device
 * number or hard-link group. Sizes and times alone are not enough: a changed
 * file can keep both (`touch -r`). Links are never followed.
 *
 * With a `memo` directory, a digest is kept with the tree's stat signature:
 * every entry's path, type, mode, owner, size, inode, mtime and ctime
 * (git's index keeps the same). The next digest of an unchanged tree is then
 * one walk of lstat calls instead of reading every file (/usr/lib/uml/modules:
 * 105 MB, ~0.4 s, on every warm build). ctime cannot be set back (touch -r
 * sets mtime; any write or chmod moves ctime forward), so a changed file
 * changes the signature. A tree with an entry changed in the last seconds is
 * not memoized (a change within the clock's resolution could go unseen).
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, readdir, readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { readRecord, writeRecord, ensureCacheDir } from './records.js';

export interface TreeDigestOptions {
  /** Only files whose path (relative, `/`-separated) passes go in (directories are always walked). */
  include?: (rel: string) => boolean;
  /** A directory for memoized digests (the cache's `digests`): see above. */
  memo?: string;
  /** With `include`: a name for what it lets in (the memo cannot tell functions apart); without one, no memo. */
  memoKey?: string;
  /** How old (ns) the newest change in the tree must be for the digest to be memoized (default 2 s; tests use 0). */
  settleNs?: bigint;
}

interface Memo {
  root: string;
  signature: string;
  digest: string;
}

/** How recent a change keeps a tree's digest out of the memo. */
const SETTLE_NS = 2_000_000_000n;

/** The stat signature of the tree at `root` (sha256 hex), and the newest ctime in it. */
async function signature(root: string): Promise<{ signature: string; newest: bigint }> {
  let newest = 0n;
  // The lstat calls of a directory's entries at once (the walk's order is kept in the lines).
  const walk = async (rel: string): Promise<string[]> => {
    const path = rel ? join(root, rel) : root;
    const st = await lstat(path, { bigint: true });
    if (st.ctimeNs > newest) newest = st.ctimeNs;
    const line = `${JSON.stringify(rel)} ${st.mode.toString(8)} ${st.uid}:${st.gid} ${st.size} ${st.dev}:${st.ino} ${st.nlink} ${st.mtimeNs} ${st.ctimeNs}\n`;
    if (!st.isDirectory()) return [line];
    const below = await Promise.all((await readdir(path)).sort().map((name) => walk(rel ? `${rel}/${name}` : name)));
    return [line, ...below.flat()];
  };
  const hash = createHash('sha256');
  for (const line of await walk('')) hash.update(line);
  return { signature: hash.digest('hex'), newest };
}

/** treeDigest through the memo in `dir` (see above). */
async function memoized(root: string, opts: TreeDigestOptions & { memo: string }): Promise<string> {
  const name = createHash('sha256')
    .update(`${root}\0${opts.memoKey ?? ''}`)
    .digest('hex')
    .slice(0, 32);
  const file = join(opts.memo, `${name}.json`);
  const before = await signature(root);
  const memo = await readRecord<Memo>(file);
  if (memo && memo.root === root && memo.signature === before.signature && typeof memo.digest === 'string') return memo.digest;
  const digest = await treeDigest(root, { include: opts.include });
  const after = await signature(root);
  const settled = BigInt(Date.now()) * 1_000_000n - after.newest >= (opts.settleNs ?? SETTLE_NS);
  if (after.signature === before.signature && settled) {
    await ensureCacheDir(opts.memo);
    await writeRecord(file, { root, signature: before.signature, digest } satisfies Memo);
  }
  return digest;
}

/** How many files are read and hashed at once (the reads overlap in libuv's pool; 1 file at a time took 1.2 s for /usr/lib/uml/modules). */
const READ_AHEAD = 16;

/** Files up to this size are read whole (fewer calls); larger ones are streamed (memory stays bounded). */
const WHOLE = 8n * 2n ** 20n;

async function fileSha256(path: string, size: bigint): Promise<string> {
  const hash = createHash('sha256');
  if (size <= WHOLE) return hash.update(await readFile(path)).digest('hex');
  return new Promise((resolve, reject) => {
    createReadStream(path)
      .on('data', (chunk) => hash.update(chunk))
      .on('error', reject)
      .on('end', () => resolve(hash.digest('hex')));
  });
}

/** The sha256 (hex) of the tree at `root`; a missing root digests as such. */
export async function treeDigest(root: string, opts: TreeDigestOptions = {}): Promise<string> {
  if (opts.memo && (!opts.include || opts.memoKey)) return memoized(root, { ...opts, memo: opts.memo });
  const total = createHash('sha256');
  const top = await lstat(root, { bigint: true }).catch(() => undefined);
  if (!top) return total.update('missing\n').digest('hex');
  // The walk makes the lines in order; a regular file's line waits for its contents' hash, READ_AHEAD at a time.
  const lines: (string | (() => Promise<string>))[] = [];
  const inodes = new Map<string, string>();
  const entry = async (rel: string): Promise<void> => {
    const path = rel ? join(root, rel) : root;
    const st = await lstat(path, { bigint: true });
    const head = `${JSON.stringify(rel)} ${st.mode.toString(8)} ${st.uid}:${st.gid} ${st.mtimeNs}`;
    if (st.isDirectory()) {
      lines.push(`${head} dir\n`);
      for (const name of (await readdir(path)).sort()) await entry(rel ? `${rel}/${name}` : name);
      return;
    }
    if (opts.include && !opts.include(rel)) return;
    if (st.isSymbolicLink()) lines.push(`${head} link ${JSON.stringify(await readlink(path))}\n`);
    else if (st.isFile()) {
      const inode = `${st.dev}:${st.ino}`;
      const first = st.nlink > 1n ? inodes.get(inode) : undefined;
      if (first !== undefined) lines.push(`${head} hardlink ${JSON.stringify(first)}\n`);
      else {
        if (st.nlink > 1n) inodes.set(inode, rel);
        lines.push(async () => `${head} file ${st.size} ${await fileSha256(path, st.size)}\n`);
      }
    } else lines.push(`${head} special ${st.rdev}\n`);
  };
  await entry('');
  const done: string[] = new Array(lines.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < lines.length; i = next++) {
      const line = lines[i]!;
      done[i] = typeof line === 'string' ? line : await line();
    }
  };
  await Promise.all(Array.from({ length: READ_AHEAD }, worker));
  for (const line of done) total.update(line);
  return total.digest('hex');
}
