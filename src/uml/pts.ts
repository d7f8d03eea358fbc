/**
 * A lab machine's login console on a pseudo-terminal (`con1=pts`): UML
 * allocates the pts and says which in its output; umlbuild opens the slave
 * side (raw, no echo) and drives it with UmlConsole, from `lab up` and again
 * from each later `lab exec`, while the shell stays logged in. The pts is
 * checked before it is opened: /dev/pts/N, a character device owned by the
 * user UML runs as (the guest writes UML's output, so the name alone is not
 * trusted).
 */
import { constants, openSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import tty from 'node:tty';
import { UserError } from '../errors.js';
import { UmlConsole } from './console.js';
import type { RunAs } from './guest.js';

/** The pts UML announced for console line `line` in its output (`Virtual console 1 assigned device '/dev/pts/3'`). */
export function announcedPts(output: string, line = 1): string | undefined {
  const m = new RegExp(`Virtual (?:console|channel) ${line} assigned device '(/dev/pts/\\d+)'`).exec(output);
  return m?.[1];
}

/** Wait until UML's log names its pts (or `alive()` says UML is gone, or `seconds` pass). */
export async function waitForPts(log: string, alive: () => boolean, seconds: number, signal?: AbortSignal): Promise<string> {
  const until = Date.now() + seconds * 1000;
  for (;;) {
    signal?.throwIfAborted();
    const text = await readFile(log, 'utf8').catch(() => '');
    const pts = announcedPts(text);
    if (pts) return pts;
    if (!alive()) throw new UserError(`UML exited before its console was ready; last lines of ${log}:\n${text.split('\n').slice(-15).join('\n')}`);
    if (Date.now() > until) throw new UserError(`UML did not announce its console within ${seconds} s (${log})`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface PtsConsole {
  con: UmlConsole;
  close(): void;
}

/** The pts's two ends as streams (raw, no echo), each on its own descriptor. */
export async function openPtsStreams(path: string, who: RunAs | undefined): Promise<{ input: tty.ReadStream; output: tty.WriteStream; close(): void }> {
  if (!/^\/dev\/pts\/\d+$/.test(path)) throw new UserError(`${path} is not a pseudo-terminal (/dev/pts/N)`);
  const st = await stat(path).catch(() => undefined);
  if (!st?.isCharacterDevice()) throw new UserError(`${path}: no such pseudo-terminal (has the machine stopped?)`);
  const uid = who?.uid ?? process.getuid?.() ?? 0;
  if (st.uid !== uid) throw new UserError(`${path} belongs to uid ${st.uid}, not to uid ${uid} that UML runs as: not this machine's console`);
  const flags = constants.O_NOCTTY | constants.O_NOFOLLOW;
  const input = new tty.ReadStream(openSync(path, constants.O_RDONLY | flags));
  input.setRawMode(true);
  const output = new tty.WriteStream(openSync(path, constants.O_WRONLY | flags));
  let closed = false;
  return {
    input,
    output,
    close() {
      if (closed) return;
      closed = true;
      input.destroy();
      output.destroy();
    },
  };
}

/** Open a UML console's pts (checked: see above), raw, as a UmlConsole. */
export async function openPts(path: string, who: RunAs | undefined): Promise<PtsConsole> {
  const { input, output, close } = await openPtsStreams(path, who);
  const con = new UmlConsole(input, output);
  con.seq = Math.floor(Math.random() * 900000);
  return { con, close };
}
