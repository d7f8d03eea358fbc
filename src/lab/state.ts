/**
 * A running lab's state: a directory of its own under the journal directory,
 * `/run/umlbuild/labs/<lab>` as root (0700, owned by the user umlbuild runs
 * as), holding `state.json` (the namespace, and per machine: UML's pid and
 * start time, umid, mconsole socket, pts, COW file, log), the machines' logs
 * and their console locks. `lab up` makes it as `.<lab>.partial-<run id>`
 * (journaled: `umlbuild cleanup` removes it after a SIGKILL) and renames it
 * once every machine is up. A pre-existing link, a directory someone else
 * owns or one others can write is refused, never followed or reused.
 */
import { constants, mkdirSync } from 'node:fs';
import { lstat, mkdir, open, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { EXIT, UserError } from '../errors.js';
import { journalDir } from '../host/state-dirs.js';
import type { LabCheck } from '../model/lab.js';
import { partialPath, writeReplacing } from '../host/safe-write.js';

export const LAB_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

export interface MachineState {
  name: string;
  pid: number;
  /** Process start time (clock ticks since boot) and boot id: the pid is only this UML while they match. */
  start: string;
  boot: string;
  umid: string;
  /** uml_mconsole's socket. */
  socket: string;
  /** The login console's pseudo-terminal. */
  pts: string;
  cow: string;
  log: string;
  /** The image (or COW variant) it boots on. */
  image: string;
  /** Unix time (ms) it was started. */
  started: number;
  /** The process that holds the console's pts open between commands (see lab/run.ts holdConsole). */
  holder?: { pid: number; start: string; boot: string };
}

export interface LabState {
  lab: string;
  file: string;
  netns: string;
  /** The guest-owned directory holding the COW files and UML's uml_dir. */
  guestDir: string;
  /** Who UML runs as (uid), for checking its pts. */
  uid: number;
  started: number;
  machines: MachineState[];
  /** The lab's checks as it was brought up: `lab test NAME` runs these. */
  checks: LabCheck[];
}

export function labsDir(): string {
  return join(journalDir(), 'labs');
}

export function checkLabName(name: string, where: string): void {
  if (!LAB_NAME.test(name)) throw new UserError(`${where}: the lab name ${JSON.stringify(name)} must be 1-64 letters, digits, _ . - (starting with a letter or digit)`, EXIT.invalid);
}

/** Why a state directory may not be trusted, or undefined when it may: a real directory, ours, not writable by others. */
async function untrustedDir(path: string): Promise<string | undefined> {
  const st = await lstat(path).catch(() => undefined);
  if (!st) return 'it does not exist';
  if (st.isSymbolicLink()) return 'it is a symbolic link';
  if (!st.isDirectory()) return 'it is not a directory';
  const uid = process.getuid?.() ?? 0;
  if (st.uid !== uid) return `it is owned by uid ${st.uid}, not by uid ${uid}`;
  if (st.mode & 0o022) return `it is writable by others (mode ${(st.mode & 0o777).toString(8)})`;
  return undefined;
}

/** The labs directory, made (0700) and checked. */
async function ensureLabsDir(): Promise<string> {
  const dir = labsDir();
  mkdirSync(journalDir(), { recursive: true, mode: 0o700 });
  await mkdir(dir, { mode: 0o700 }).catch((e: NodeJS.ErrnoException) => {
    if (e.code !== 'EEXIST') throw e;
  });
  const bad = await untrustedDir(dir);
  if (bad) throw new UserError(`refusing to use the labs directory ${dir}: ${bad}`);
  return dir;
}

/** The state directory of a lab that is up: checked, or an error saying the lab is not up. */
export async function stateDirOf(lab: string): Promise<string> {
  const dir = join(labsDir(), lab);
  const st = await lstat(dir).catch(() => undefined);
  if (!st) throw new UserError(`the lab ${lab} is not up (no ${dir}): \`umlbuild lab up\` first`, EXIT.invalid);
  const bad = await untrustedDir(dir);
  if (bad) throw new UserError(`refusing to use the lab state directory ${dir}: ${bad}`);
  return dir;
}

/** Whether the lab has a state directory (up, or left by a killed `lab up`). */
export async function labIsUp(lab: string): Promise<boolean> {
  return (await lstat(join(labsDir(), lab)).catch(() => undefined)) !== undefined;
}

/**
 * Make the partial state directory for `lab up`; refuses when the lab is up already or something else is in
 * the way (a link, a directory not made by umlbuild).
 */
export async function makePartialStateDir(lab: string): Promise<{ partial: string; final: string }> {
  const dir = await ensureLabsDir();
  const final = join(dir, lab);
  const st = await lstat(final).catch(() => undefined);
  if (st) {
    const bad = await untrustedDir(final);
    if (bad) throw new UserError(`refusing to use the lab state directory ${final}: ${bad}`);
    throw new UserError(`the lab ${lab} is up already (${final}): \`umlbuild lab down\` it first`, EXIT.invalid);
  }
  const partial = partialPath(final);
  await mkdir(partial, { mode: 0o700 });
  return { partial, final };
}

/** Rename the partial state directory to its final name (never over anything: the name must still be free). */
export async function commitStateDir(partial: string, final: string): Promise<void> {
  if (await lstat(final).catch(() => undefined)) throw new UserError(`refusing to replace ${final}: something appeared there while the lab came up`);
  await rename(partial, final);
}

export async function writeState(dir: string, state: LabState): Promise<void> {
  await writeReplacing(join(dir, 'state.json'), `${JSON.stringify(state, null, 2)}\n`, 0o600);
}

export async function readState(dir: string): Promise<LabState> {
  const file = join(dir, 'state.json');
  const fh = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK).catch(() => undefined);
  if (!fh) throw new UserError(`${file} is missing: the lab did not finish coming up (\`umlbuild lab down\` or \`umlbuild cleanup\` releases it)`);
  try {
    const s = JSON.parse(await fh.readFile('utf8')) as LabState;
    if (typeof s.netns !== 'string' || !Array.isArray(s.machines)) throw new Error('not a lab state');
    return s;
  } catch (e) {
    throw new UserError(`${file}: unreadable (${(e as Error).message})`);
  } finally {
    await fh.close();
  }
}
