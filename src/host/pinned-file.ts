/**
 * Files outside a root tree that umlbuild reads or writes on a user's behalf
 * (COW files, their base images, manifests), opened without following a
 * symbolic link and without ever opening a FIFO, socket or device: lstat
 * first, then open with O_NOFOLLOW|O_NONBLOCK and check with fstat that it is
 * the same regular file. The open file is "pinned": `path` names it through
 * /proc/PID/fd, so a tool run afterwards (uml_moo, filefrag) reaches this very
 * file even if its name is swapped for a link in the meantime.
 */
import { constants, type Stats } from 'node:fs';
import { lstat, open, type FileHandle } from 'node:fs/promises';
import { EXIT, UserError } from '../errors.js';

export interface PinnedFile {
  /** The name it was opened by. */
  name: string;
  fh: FileHandle;
  /** /proc/PID/fd/N: this open file, for this process and its children. */
  path: string;
  stat: Stats;
  close(): Promise<void>;
}

const { O_RDONLY, O_RDWR, O_WRONLY, O_NOFOLLOW, O_NONBLOCK, O_CREAT, O_EXCL } = constants;

export function fileKind(st: Stats): string {
  if (st.isSymbolicLink()) return 'a symbolic link';
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isSocket()) return 'a socket';
  if (st.isBlockDevice() || st.isCharacterDevice()) return 'a device node';
  return st.isFile() ? 'a regular file' : 'not a regular file';
}

function pin(name: string, fh: FileHandle, stat: Stats): PinnedFile {
  return { name, fh, stat, path: `/proc/${process.pid}/fd/${fh.fd}`, close: () => fh.close() };
}

/**
 * Open an existing regular file that is not a symbolic link; anything else is
 * a UserError naming it (`what` says what it was meant to be).
 */
export async function openRegularFile(name: string, what: string, opts: { write?: boolean } = {}): Promise<PinnedFile> {
  const refuse = (why: string) => new UserError(`${what} ${name} ${why}: refused`, EXIT.invalid);
  const st = await lstat(name).catch((e: NodeJS.ErrnoException) => {
    throw refuse(e.code === 'ENOENT' ? 'does not exist' : `cannot be read (${e.code ?? e.message})`);
  });
  if (!st.isFile()) throw refuse(`is ${fileKind(st)}, not a regular file`);
  const fh = await open(name, (opts.write ? O_RDWR : O_RDONLY) | O_NOFOLLOW | O_NONBLOCK).catch((e: NodeJS.ErrnoException) => {
    throw refuse(e.code === 'ELOOP' ? 'is a symbolic link' : `cannot be opened (${e.code ?? e.message})`);
  });
  const now = await fh.stat();
  if (!now.isFile() || now.ino !== st.ino || now.dev !== st.dev) {
    await fh.close();
    throw refuse('changed while it was being opened');
  }
  return pin(name, fh, now);
}

/**
 * Create a new file that must not exist yet, not even as a dangling link
 * (O_CREAT|O_EXCL|O_NOFOLLOW), with at most `mode`.
 */
export async function createNewFile(name: string, mode: number): Promise<PinnedFile> {
  const fh = await open(name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_NONBLOCK, mode & 0o777).catch((e: NodeJS.ErrnoException) => {
    throw new UserError(e.code === 'EEXIST' ? `${name} exists (or is a link); choose another name` : `cannot create ${name}: ${e.code ?? e.message}`, EXIT.invalid);
  });
  // The umask may narrow the mode further; make sure nothing widened it.
  const st = await fh.stat();
  if ((st.mode & 0o7777 & ~mode) !== 0) await fh.chmod(st.mode & mode & 0o777);
  return pin(name, fh, await fh.stat());
}

/** Whether `name` still is the file `pinned` (so removing the name removes it). */
export async function stillNames(name: string, pinned: PinnedFile): Promise<boolean> {
  const st = await lstat(name).catch(() => undefined);
  return Boolean(st?.isFile() && st.ino === pinned.stat.ino && st.dev === pinned.stat.dev);
}
