/**
 * A content-addressed digest of a directory tree, for cache keys of inputs
 * copied from a directory (rootfs-dir, modules): every entry's path, type,
 * mode, owner, mtime and, by type, its contents' sha256, link target, device
 * number or hard-link group. Sizes and times alone are not enough: a changed
 * file can keep both (`touch -r`). Links are never followed.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';

export interface TreeDigestOptions {
  /** Only files whose path (relative, `/`-separated) passes go in (directories are always walked). */
  include?: (rel: string) => boolean;
}

function fileSha256(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(path)
      .on('data', (chunk) => hash.update(chunk))
      .on('error', reject)
      .on('end', () => resolve(hash.digest('hex')));
  });
}

/** The sha256 (hex) of the tree at `root`; a missing root digests as such. */
export async function treeDigest(root: string, opts: TreeDigestOptions = {}): Promise<string> {
  const total = createHash('sha256');
  const inodes = new Map<string, string>();
  const top = await lstat(root, { bigint: true }).catch(() => undefined);
  if (!top) return total.update('missing\n').digest('hex');
  const entry = async (rel: string): Promise<void> => {
    const path = rel ? join(root, rel) : root;
    const st = await lstat(path, { bigint: true });
    const head = `${JSON.stringify(rel)} ${st.mode.toString(8)} ${st.uid}:${st.gid} ${st.mtimeNs}`;
    if (st.isDirectory()) {
      total.update(`${head} dir\n`);
      for (const name of (await readdir(path)).sort()) await entry(rel ? `${rel}/${name}` : name);
      return;
    }
    if (opts.include && !opts.include(rel)) return;
    if (st.isSymbolicLink()) total.update(`${head} link ${JSON.stringify(await readlink(path))}\n`);
    else if (st.isFile()) {
      const inode = `${st.dev}:${st.ino}`;
      const first = st.nlink > 1n ? inodes.get(inode) : undefined;
      if (first !== undefined) total.update(`${head} hardlink ${JSON.stringify(first)}\n`);
      else {
        if (st.nlink > 1n) inodes.set(inode, rel);
        total.update(`${head} file ${st.size} ${await fileSha256(path)}\n`);
      }
    } else total.update(`${head} special ${st.rdev}\n`);
  };
  await entry('');
  return total.digest('hex');
}
