/** The JSON records beside cache entries, shared by the bootstrap and base-image caches. */
import { constants } from 'node:fs';
import { lstat, mkdir, open, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { UserError } from '../errors.js';
import { alive, lockHolder } from '../host/lock-file.js';
import { partialPid, writeReplacing } from '../host/safe-write.js';

/** Every `*.json` record in `dir`, by name; unreadable ones are skipped. */
export async function readRecords<T>(dir: string): Promise<T[]> {
  const out: T[] = [];
  for (const f of (await readdir(dir).catch(() => [] as string[])).sort()) {
    if (!f.endsWith('.json')) continue;
    const record = await readRecord<T>(join(dir, f));
    if (record) out.push(record);
  }
  return out;
}

/** A record, read without following a link or blocking on a FIFO; undefined when it is not a readable JSON file. */
export async function readRecord<T>(file: string): Promise<T | undefined> {
  const fh = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK).catch(() => undefined);
  if (!fh) return undefined;
  try {
    if (!(await fh.stat()).isFile()) return undefined;
    return JSON.parse(await fh.readFile('utf8')) as T;
  } catch {
    return undefined;
  } finally {
    await fh.close();
  }
}

/** Write a record whole or not at all (temporary name, then rename). */
export async function writeRecord(file: string, value: unknown): Promise<void> {
  await writeReplacing(file, `${JSON.stringify(value, null, 2)}\n`);
}

/** Make a cache directory; one that is a symbolic link (or not ours) is refused, never written through. */
export async function ensureCacheDir(dir: string): Promise<string> {
  await mkdir(dir, { recursive: true, mode: 0o755 });
  const st = await lstat(dir);
  if (!st.isDirectory() || (process.getuid && st.uid !== process.getuid())) {
    throw new UserError(`the cache directory ${dir} is ${st.isSymbolicLink() ? 'a symbolic link' : st.isDirectory() ? 'owned by another user' : 'not a directory'}: remove it or use another --cache-dir`);
  }
  return dir;
}

/** The key an entry file belongs to: `KEY.tar.zst`, `KEY.json`, `KEY.lock`, `.KEY.img.partial-…`. */
const keyOf = (name: string) => name.replace(/^\./, '').split('.')[0]!;

/**
 * Remove the entries in `dir` (records, their files, stray partials, dead
 * locks); returns how many records there were. The directory is opened with
 * O_NOFOLLOW and worked on through its descriptor, so a cache subdirectory
 * that is a link (to anywhere) is left alone with a warning; entries whose
 * lock a live build holds, and partial files a live build writes, are kept.
 */
export async function pruneCacheDir(dir: string, warn: (line: string) => void, keep: (name: string) => boolean = () => false): Promise<number> {
  const fh = await open(dir, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW).catch(async (e: NodeJS.ErrnoException) => {
    const link = (await lstat(dir).catch(() => undefined))?.isSymbolicLink();
    if (e.code !== 'ENOENT') warn(`${dir} is ${link ? 'a symbolic link' : e.code === 'ENOTDIR' ? 'not a directory' : `unreadable (${e.code})`}: left alone`);
    return undefined;
  });
  if (!fh) return 0;
  try {
    const at = `/proc/self/fd/${fh.fd}`;
    const files = (await readdir(at)).sort();
    const held = new Set<string>();
    for (const f of files.filter((n) => n.endsWith('.lock'))) {
      const holder = await lockHolder(join(at, f));
      if (holder === undefined) continue;
      held.add(keyOf(f));
      warn(`${join(dir, f)}: held by a running umlbuild (pid ${holder}): its entry is left alone`);
    }
    let records = 0;
    for (const f of files) {
      if (held.has(keyOf(f)) || keep(f)) continue;
      const pid = partialPid(f);
      if (pid !== undefined && alive(pid)) {
        warn(`${join(dir, f)}: being written by a running umlbuild (pid ${pid}): left alone`);
        continue;
      }
      // rm never follows a link: a link entry itself is removed, not what it points to.
      await rm(join(at, f), { force: true, recursive: true });
      if (f.endsWith('.json')) records++;
    }
    return records;
  } finally {
    await fh.close();
  }
}

/** Whether any lock in `dir` is held by a running umlbuild (then what entries share, such as debs/, stays). */
export async function anyLiveLock(dir: string): Promise<boolean> {
  for (const f of await readdir(dir).catch(() => [] as string[])) {
    if (f.endsWith('.lock') && (await lockHolder(join(dir, f))) !== undefined) return true;
  }
  return false;
}
