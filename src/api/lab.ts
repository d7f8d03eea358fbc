/**
 * Labs (issue 16): `umlbuild lab up|test|down|status|exec|console` and the
 * same calls for a library user, who may also pass a Lab (model/lab.ts) made
 * in code. What only a command line needs (the password prompt, output) comes
 * in through the options.
 */
import { existsSync } from 'node:fs';
import { loadLab } from '../lab/load.js';
import { type CheckResult, checkLine, runChecks } from '../lab/checks.js';
import { labConsole, labDown, labExec, labStatus, labUp, type MachineStatus } from '../lab/run.js';
import { LAB_NAME, labIsUp, type LabState } from '../lab/state.js';
import type { Lab } from '../model/lab.js';
import { type Asker, NO_TERMINAL, TERMINAL } from '../uml/credentials.js';
import { resolveLogin } from './login.js';

export type { Lab, LabState, CheckResult, MachineStatus };
export { checkLine };
export const labTerminalAsker: Asker = TERMINAL;

export interface LabOptions {
  log?: (line: string) => void;
  /** Let segments that declare an uplink join their host bridge (off: such a lab is refused). */
  allowUplink?: boolean;
  signal?: AbortSignal;
  /** Asks for a password nothing else gives (default: nobody; then the error says how to give it). */
  asker?: Asker;
  /** Seconds to wait for each machine's login prompt. */
  timeoutS?: number;
  cacheDir?: string | false;
  /** How many machines boot at the same time (default: all). */
  parallel?: number;
}

/** Read a lab file or Netkit lab directory (for a Netkit lab, `opts` names the image or recipe its machines boot). */
export function readLab(path: string, opts: { image?: string; recipe?: string } = {}): Promise<Lab> {
  return loadLab(path, opts);
}

/** A command-line argument that names a lab that is up (not a file or directory here), or undefined. */
export async function upLabName(arg: string): Promise<string | undefined> {
  return !existsSync(arg) && LAB_NAME.test(arg) && (await labIsUp(arg)) ? arg : undefined;
}

/** The lab a command-line argument means: a lab file or directory, else (for a lab that is up) its name. */
export async function labNameOf(arg: string): Promise<string> {
  return (await upLabName(arg)) ?? (await loadLab(arg)).name;
}

/** Bring a lab up (see lab/run.ts); resolves once every machine is logged in and its startup done. */
export function upLab(lab: Lab, o: LabOptions = {}): Promise<LabState> {
  return labUp(lab, {
    log: o.log,
    allowUplink: o.allowUplink,
    signal: o.signal,
    timeoutS: o.timeoutS,
    cacheDir: o.cacheDir,
    parallel: o.parallel,
    login: (img, built) => resolveLogin(img, undefined, process.env, built, o.asker ?? NO_TERMINAL),
  });
}

export interface LabTestResult {
  results: CheckResult[];
  ok: boolean;
  /** The lab was not up: it was brought up for the checks and taken down after. */
  transient: boolean;
}

/** The checks of a lab that is up, by name (as it was brought up). */
export async function upLabChecks(name: string): Promise<Lab['checks']> {
  return (await labStatus(name)).state.checks ?? [];
}

/** Run the checks of a lab that is up, known by name only. */
export async function testUpLab(name: string, o: { signal?: AbortSignal; onResult?: (r: CheckResult) => void } = {}): Promise<LabTestResult> {
  const results = await runChecks(await upLabChecks(name), (machine, command, timeoutS) => labExec(name, machine, command, { timeoutS, signal: o.signal }), o.onResult, o.signal);
  return { results, ok: results.every((r) => r.ok), transient: false };
}

/** Run a lab's checks: on the lab that is up, or else up, checks, down in one go (the CI path). */
export async function testLab(lab: Lab, o: LabOptions & { onResult?: (r: CheckResult) => void } = {}): Promise<LabTestResult> {
  const transient = !(await labIsUp(lab.name));
  if (transient) await upLab(lab, o);
  try {
    const results = await runChecks(lab.checks, (machine, command, timeoutS) => labExec(lab.name, machine, command, { timeoutS, signal: o.signal }), o.onResult, o.signal);
    return { results, ok: results.every((r) => r.ok), transient };
  } finally {
    if (transient) await labDown(lab.name, o.log);
  }
}

export function downLab(name: string, log?: (line: string) => void): Promise<{ stopped: string[] }> {
  return labDown(name, log);
}

export function statusLab(name: string): Promise<{ state: LabState; machines: MachineStatus[] }> {
  return labStatus(name);
}

/** Run a shell command as root on a machine of a lab that is up. */
export function execLab(name: string, machine: string, command: string, o: { timeoutS?: number; signal?: AbortSignal } = {}): Promise<{ output: string; status: number }> {
  return labExec(name, machine, command, o);
}

/** Attach a terminal to a machine's console until Ctrl-]. */
export function consoleLab(name: string, machine: string, term: { input: NodeJS.ReadStream; output: NodeJS.WriteStream }): Promise<void> {
  return labConsole(name, machine, term);
}
