/**
 * Passwords umlbuild makes up when a recipe and its user give none (a
 * variable with `generate: true`): no image gets a well-known password by
 * default. 20 characters drawn with crypto.randomInt (unbiased) from 56
 * that cannot be mistaken for one another (no 0/O, 1/l/I), in groups of
 * five: about 116 bits, and easy to type at a console.
 *
 * The password is shown once, at the end of the build: on stdout when it is
 * a terminal and the output is text; otherwise (CI, pipes, NDJSON) it is
 * written to `OUT/<output>.password`, mode 0600 (created O_EXCL|O_NOFOLLOW
 * under a fresh name and renamed: safe-write), and only that file's name is
 * printed (one password a line, in the order named). A CI log is kept and often public; a 0600 file is read by whom
 * the job gives it to. It never reaches a log, event, manifest or launch script.
 */
import { randomInt } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { writeReplacing } from './safe-write.js';

export const PASSWORD_ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789';
const GROUPS = 4;
const GROUP = 5;

export function generatePassword(): string {
  const groups: string[] = [];
  for (let g = 0; g < GROUPS; g++) {
    let s = '';
    for (let i = 0; i < GROUP; i++) s += PASSWORD_ALPHABET[randomInt(PASSWORD_ALPHABET.length)];
    groups.push(s);
  }
  return groups.join('-');
}

/** The file a generated password goes to when there is no terminal to show it on. */
export const passwordFile = (outDir: string, output: string) => join(outDir, `${output}.password`);

export interface Announce {
  /** Variable name → the password generated for it. */
  generated: Map<string, string>;
  outDir: string;
  output: string;
  /** Stdout is a terminal and the output is for a person (text, not NDJSON). */
  terminal: boolean;
  /** Writes a line to stdout unredacted (the password is a registered secret). */
  write: (line: string) => void;
}

/**
 * Show the generated passwords once, or write them to the 0600 file; a file
 * from an earlier build of this output is removed either way (it would hold a
 * password the new image does not have).
 */
export async function announceGenerated(a: Announce): Promise<void> {
  const file = passwordFile(a.outDir, a.output);
  await rm(file, { force: true });
  if (!a.generated.size) return;
  if (a.terminal) {
    a.write('');
    for (const [name, value] of a.generated) a.write(`${name} was generated (shown only this once; it is in no log or file): ${value}`);
    return;
  }
  await writeReplacing(file, [...a.generated.values()].map((v) => `${v}\n`).join(''), 0o600);
  for (const name of a.generated.keys()) a.write(`${name} was generated: written to ${file} (mode 0600; shown nowhere else)`);
}
