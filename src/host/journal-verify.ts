/**
 * What `cleanup` may trust in a journal. A journal is a file anyone who can
 * write the journal directory could have crafted, so the directory and the
 * file are checked first (ours, not writable by others, no link), and then
 * every resource on its own: cleanup releases only what it can tell is
 * umlbuild's own, left by the dead process the journal names:
 * - files and trees: under umlbuild's temporary roots (`<tmp>/umlbuild-*`),
 *   or named with umlbuild's partial naming and that process's pid
 *   (`*.partial-<pid>-<hex>`, beside an output or in a cache); never through
 *   a link (no link in the path; a link at the end is removed, not followed);
 * - mounts: of such paths or below them; loop devices: only while they still
 *   back such a file (checked at release);
 * - locks: `*.lock` files naming that process, which is gone;
 * - network namespaces: `umlbuild-<pid>-<hex>` (or a lab's `umlbuild-lab-<lab>-<pid>-<hex>`) of that process.
 */
import { lstat, realpath } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, normalize } from 'node:path';
import { partialPid } from './safe-write.js';

export interface JournalOwner {
  pid: number;
}

const TEMP_ROOTS = () => [...new Set([tmpdir(), '/tmp', '/var/tmp', '/dev/shm'].map((r) => normalize(r).replace(/\/$/, '')))];

/** Why a journal directory or file may not be trusted, or undefined when it may. */
export async function untrustedJournalPath(path: string, kind: 'directory' | 'file'): Promise<string | undefined> {
  const st = await lstat(path).catch(() => undefined);
  if (!st) return kind === 'directory' ? undefined : 'it is gone';
  if (st.isSymbolicLink()) return 'it is a symbolic link';
  if (kind === 'directory' ? !st.isDirectory() : !st.isFile()) return `it is not a ${kind === 'directory' ? 'directory' : 'regular file'}`;
  const uid = process.getuid?.() ?? 0;
  if (st.uid !== uid) return `it is owned by uid ${st.uid}, not by uid ${uid}`;
  if (st.mode & 0o022) return `it is writable by others (mode ${(st.mode & 0o777).toString(8)})`;
  return undefined;
}

/** A path below one of umlbuild's temporary roots (`/tmp/umlbuild-*` and the like). */
function underTempRoot(path: string): boolean {
  return TEMP_ROOTS().some((root) => path.startsWith(`${root}/umlbuild-`));
}

/** A path whose name, or one of whose parent directories, is a partial name of process `pid`. */
function partialOf(path: string, pid: number, last = false): boolean {
  const parts = path.split('/');
  return (last ? [parts[parts.length - 1]!] : parts).some((p) => partialPid(p) === pid);
}

/**
 * No link anywhere above the last component (the last is lstat'ed by whoever
 * removes it). A parent that no longer exists (its temporary directory was
 * removed) is no link: then the nearest ancestor that exists must resolve to
 * itself, and the resource is simply gone.
 */
async function noLinkAbove(path: string): Promise<boolean> {
  for (let dir = dirname(path); ; dir = dirname(dir)) {
    const real = await realpath(dir).catch((e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? null : undefined));
    if (real !== null) return real === dir;
    if ((await lstat(dir).catch(() => undefined)) !== undefined) return false; // exists but does not resolve: a dangling link
    if (dirname(dir) === dir) return false;
  }
}

/** Why `cleanup` may not touch a path journaled as a file, tree or mount, or undefined when it may. */
export async function untrustedResourcePath(path: unknown, owner: JournalOwner, kind: 'file' | 'tree' | 'mount' | 'lock'): Promise<string | undefined> {
  if (typeof path !== 'string' || !isAbsolute(path) || normalize(path) !== path || path.endsWith('/')) return 'not an absolute, normalized path';
  if (kind === 'lock') {
    if (!path.endsWith('.lock')) return 'not a lock file';
  } else if (!underTempRoot(path) && !partialOf(path, owner.pid, kind !== 'mount')) {
    return `neither below umlbuild's temporary directories nor one of its partial files (*.partial-${owner.pid}-*)`;
  }
  if (!(await noLinkAbove(path))) return 'there is a symbolic link on the way to it';
  if (kind === 'tree' || kind === 'mount') {
    const st = await lstat(path).catch(() => undefined);
    if (st && !st.isDirectory()) return st.isSymbolicLink() ? 'it is a symbolic link' : 'it is not a directory';
  }
  return undefined;
}

/** Whether a network namespace name is one the journal's process made. */
export function ownNetns(name: unknown, owner: JournalOwner): boolean {
  return typeof name === 'string' && new RegExp(`^umlbuild-(lab-[A-Za-z0-9_.]{1,24}-)?${owner.pid}-[0-9a-f]{6}$`).test(name);
}
