/**
 * The files a guest's UML reads, handed over as inherited descriptors: each
 * is opened here (no link followed, readable by the guest user by its own
 * mode) and UML opens it again as /dev/fd/N. The COW layers UML writes live
 * in a private directory owned by the guest user.
 */
import { chown, open, stat } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname } from 'node:path';
import { dir, type DirectoryResult } from 'tmp-promise';
import { COW_MAGIC } from './cow.js';
import { openForGuest, type RunAs } from './guest.js';

export class GuestFiles {
  private handles: FileHandle[] = [];

  constructor(readonly who: RunAs | undefined) {}

  /** Open `path` for UML; returns the name UML opens it by. */
  async add(path: string, what: string, directory = false, write = false, execute = false): Promise<string> {
    this.handles.push(await openForGuest(path, this.who, what, directory, write, execute));
    return `/dev/fd/${2 + this.handles.length}`;
  }

  /** The open file behind a name `add` returned (to hash what UML will run). */
  handle(name: string): FileHandle | undefined {
    const m = /^\/dev\/fd\/(\d+)$/.exec(name);
    return m ? this.handles[Number(m[1]) - 3] : undefined;
  }

  /** The descriptors, in order: they become UML's fd 3, 4, ... */
  get fds(): number[] {
    return this.handles.map((h) => h.fd);
  }

  async close(): Promise<void> {
    await Promise.all(this.handles.splice(0).map((h) => h.close()));
  }
}

/** Whether every directory from `path` up to / lets any user pass (o+x). */
async function searchableByAll(path: string): Promise<boolean> {
  for (let p = path; ; p = dirname(p)) {
    const st = await stat(p).catch(() => undefined);
    if (!st || !(st.mode & 0o001)) return false;
    if (p === '/') return true;
  }
}

/**
 * A private directory for a guest's uml_dir and COW files, owned by the user
 * UML runs as: in $TMPDIR when that user can reach it, else in /tmp (a TMPDIR
 * under a 0700 home would lock the guest out of its own directory).
 */
export async function guestTempDir(prefix: string, who: RunAs | undefined): Promise<DirectoryResult> {
  const base = who && !(await searchableByAll(tmpdir())) ? '/tmp' : tmpdir();
  const tmp = await dir({ prefix, tmpdir: base, unsafeCleanup: true });
  await giveToGuest(tmp.path, who);
  return tmp;
}

/** Give a file or directory this run created to the user UML runs as. */
export async function giveToGuest(path: string, who: RunAs | undefined): Promise<void> {
  if (who) await chown(path, who.uid, who.gid);
}

const PATH_AT = 32;
const PATH_LEN = 4096;

/**
 * UML records the backing file of a new COW as it resolved it: /proc/PID/fd/N
 * for an inherited one. Put the real path back so the COW names its base.
 */
export async function recordCowBacking(cow: string, backing: string): Promise<void> {
  const fh = await open(cow, 'r+');
  try {
    const head = Buffer.alloc(PATH_AT + PATH_LEN);
    await fh.read(head, 0, head.length, 0);
    if (head.readUInt32BE(0) !== COW_MAGIC) return;
    const recorded = head
      .subarray(PATH_AT, PATH_AT + PATH_LEN)
      .toString('utf8')
      .replace(/\0[\s\S]*$/, '');
    if (!/^\/(proc\/\d+|dev)\/fd\/\d+$/.test(recorded)) return;
    const field = Buffer.alloc(PATH_LEN);
    if (Buffer.byteLength(backing) >= PATH_LEN) throw new Error(`${backing}: path too long for a COW header`);
    field.write(backing);
    await fh.write(field, 0, PATH_LEN, PATH_AT);
  } finally {
    await fh.close();
  }
}
