/**
 * Reading and editing files inside an ext2/3/4 image with debugfs: no loop
 * device, no mount, no root. Paths resolve inside the image's own tree, so a
 * link in the image can never lead to a host file. A warm build edits a
 * copy of a cached base image this way (see runner/fast-path).
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { dir as tmpDir } from 'tmp-promise';
import { exec, type ExecOptions } from './exec.js';
import type { TreeJournal } from './safe-write.js';

export interface ImageStat {
  type: 'regular' | 'directory' | 'symlink' | 'other';
  mode: number;
  uid: number;
  gid: number;
}

export type ImageEdit =
  | { kind: 'file'; path: string; content: string | Buffer; mode: number; uid: number; gid: number }
  | { kind: 'dir'; path: string; mode: number; uid: number; gid: number }
  | { kind: 'symlink'; path: string; target: string; uid: number; gid: number };

/** Thrown when an edit cannot be expressed for debugfs; the build then takes the ordinary path. */
export class NotEditable extends Error {}

/** debugfs takes one word per argument: no spaces, quotes or control characters. */
export function checkImagePath(path: string): string {
  if (!path.startsWith('/') || /[\s"'\\\x00-\x1f]/.test(path)) throw new NotEditable(`${JSON.stringify(path)} cannot be edited with debugfs`);
  return path;
}

export async function readImageFile(image: string, path: string, opts: ExecOptions = {}): Promise<string | undefined> {
  const r = await exec('debugfs', ['-R', `cat ${checkImagePath(path)}`, image], { ...opts, reject: false });
  return /File not found|not found by ext2_lookup/.test(r.stderr) ? undefined : r.stdout;
}

export async function statImageFile(image: string, path: string, opts: ExecOptions = {}): Promise<ImageStat | undefined> {
  const r = await exec('debugfs', ['-R', `stat ${checkImagePath(path)}`, image], { ...opts, reject: false });
  const head = /Type: (\w+)\s+Mode:\s+(\d+)/.exec(r.stdout);
  const owner = /User:\s+(\d+)\s+Group:\s+(\d+)/.exec(r.stdout);
  if (!head || !owner) return undefined;
  const type = head[1] === 'regular' || head[1] === 'directory' || head[1] === 'symlink' ? head[1] : 'other';
  return { type, mode: parseInt(head[2]!, 8), uid: Number(owner[1]), gid: Number(owner[2]) };
}

const TYPE_BITS = { file: 0o100000, dir: 0o040000 };
/** stderr lines debugfs prints for things that are fine here (removing what is not there). */
const HARMLESS = [/^debugfs \d/, /^rm: File not found by ext2_lookup/, /^\s*$/];

/** The debugfs script for `edits`, with file contents staged in `staging`. */
export function editScript(edits: ImageEdit[], staged: (i: number) => string, epoch?: number): string {
  const lines: string[] = [];
  const stamp = (p: string) => (epoch === undefined ? [] : ['mtime', 'atime', 'ctime', 'crtime'].map((f) => `sif ${p} ${f} ${epoch}`));
  edits.forEach((e, i) => {
    const p = checkImagePath(e.path);
    if (e.kind === 'dir') lines.push(`mkdir ${p}`, `sif ${p} mode 0${(TYPE_BITS.dir | (e.mode & 0o7777)).toString(8)}`);
    else if (e.kind === 'file') lines.push(`rm ${p}`, `write ${staged(i)} ${p}`, `sif ${p} mode 0${(TYPE_BITS.file | (e.mode & 0o7777)).toString(8)}`);
    else lines.push(`rm ${p}`, `symlink ${p} ${checkLinkTarget(e.target)}`);
    lines.push(`sif ${p} uid ${e.uid}`, `sif ${p} gid ${e.gid}`, ...stamp(p));
    const parent = p.slice(0, p.lastIndexOf('/')) || '/';
    lines.push(...stamp(parent));
  });
  return `${lines.join('\n')}\n`;
}

function checkLinkTarget(target: string): string {
  checkImagePath(target.startsWith('/') ? target : `/${target}`);
  return target;
}

/**
 * Apply `edits` in order to the image in one debugfs run. Directories that
 * exist already are left as they are (the caller leaves them out); any
 * error debugfs reports fails the edit.
 */
export async function applyImageEdits(image: string, edits: ImageEdit[], opts: { epoch?: number; exec?: ExecOptions; journal?: TreeJournal } = {}): Promise<void> {
  if (!edits.length) return;
  const staging = await tmpDir({ prefix: 'umlbuild-edits-', unsafeCleanup: true });
  const journaled = opts.journal?.add({ kind: 'tree', path: staging.path });
  try {
    const staged = (i: number) => join(staging.path, String(i));
    for (const [i, e] of edits.entries()) if (e.kind === 'file') await writeFile(staged(i), e.content);
    const env: Record<string, string> = opts.epoch === undefined ? {} : { E2FSPROGS_FAKE_TIME: String(opts.epoch), SOURCE_DATE_EPOCH: String(opts.epoch) };
    const r = await exec('debugfs', ['-w', '-f', '-', image], { ...opts.exec, input: editScript(edits, staged, opts.epoch), env, onLine: undefined });
    const errors = r.stderr.split('\n').filter((l) => !HARMLESS.some((h) => h.test(l)));
    if (errors.length) throw new Error(`debugfs could not edit ${image}:\n${errors.slice(0, 15).join('\n')}`);
  } finally {
    await staging.cleanup();
    if (journaled !== undefined) opts.journal!.forget(journaled);
  }
}
