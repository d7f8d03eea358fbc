/**
 * Writing outside a root tree (output, artifact, cache and journal
 * directories), where someone else may have planted a link: a new file is
 * created with O_CREAT|O_EXCL|O_NOFOLLOW (it fails on any existing name,
 * link or not), and a file that replaces another is written under such a
 * fresh temporary name beside it and renamed over the final name: a rename
 * replaces a link, never writes through it.
 */
import { closeSync, constants, openSync, renameSync, rmSync, writeSync, fchmodSync } from 'node:fs';
import { lstat, mkdir, open, readFile, rename, rm, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { RUN_ID } from './run-id.js';

const NEW_FILE = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

/** Where a temporary tree is recorded while it exists (the runner's journal), so `cleanup` removes it after a SIGKILL. */
export interface TreeJournal {
  add(r: { kind: 'tree'; path: string }): number;
  forget(id: number): void;
}

/** `dir/.name.partial-<run id>` beside `dir/name`: umlbuild's partial naming, which cleanup recognises. */
export function partialPath(final: string): string {
  return join(dirname(final), `.${basename(final)}.partial-${RUN_ID}`);
}

/** Whether a file name is one of umlbuild's partial names, and of which pid (`*.partial-<pid>-<hex>`). */
export function partialPid(name: string): number | undefined {
  const m = /\.partial-(\d+)-[0-9a-f]{6}$/.exec(basename(name));
  return m ? Number(m[1]) : undefined;
}

/** Create `path`, which must not exist yet (not even as a dangling link). */
export function createNew(path: string, mode = 0o644): Promise<FileHandle> {
  return open(path, NEW_FILE, mode);
}

/** Write a file that must not exist yet. */
export async function writeNew(path: string, data: string | Buffer, mode = 0o644): Promise<void> {
  const fh = await createNew(path, mode);
  let ok = false;
  try {
    await fh.writeFile(data);
    await fh.chmod(mode);
    ok = true;
  } finally {
    await fh.close();
    if (!ok) await rm(path, { force: true });
  }
}

/** Write `final` whole or not at all, replacing what is there (a planted link included) without following it. */
export async function writeReplacing(final: string, data: string | Buffer, mode = 0o644): Promise<void> {
  const tmp = partialPath(final);
  await writeNew(tmp, data, mode);
  try {
    await rename(tmp, final);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}

/** writeReplacing, synchronously (the journal must be on disk when a resource is recorded). */
export function writeReplacingSync(final: string, data: string, mode = 0o600): void {
  const tmp = partialPath(final);
  const fd = openSync(tmp, NEW_FILE, mode);
  try {
    writeSync(fd, data);
    fchmodSync(fd, mode);
  } finally {
    closeSync(fd);
  }
  try {
    renameSync(tmp, final);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

/** Copy a (small) file of our own to `final` the same way; keeps the source's permission bits. */
export async function copyReplacing(from: string, final: string): Promise<void> {
  const mode = (await lstat(from)).mode & 0o777;
  await writeReplacing(final, await readFile(from), mode);
}

/**
 * A private directory (0700) for this run, created fresh (mkdir never
 * follows a link: an existing name fails) at `path`.
 */
export async function makePrivateDir(path: string): Promise<string> {
  await mkdir(dirname(path), { recursive: true });
  await mkdir(path, { mode: 0o700 });
  return path;
}
