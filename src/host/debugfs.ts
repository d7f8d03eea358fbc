/**
 * Raw debugfs access to an ext2/3/4 image: no loop device, no mount, no
 * root. Paths resolve inside the image's own tree, so a link in the image can
 * never lead to a host file. Reading a file or an inode, and running a
 * script of commands; what to write is edits/image's business.
 */
import { exec, type ExecOptions, type ExecResult } from './exec.js';
import { noSyncEnv } from './no-sync.js';

/**
 * Run debugfs or e2fsck on an image, without fsync when eatmydata is installed
 * (host/no-sync.ts: the image of a warm build is a fresh copy still in the page cache).
 */
export async function e2tool(tool: 'debugfs' | 'e2fsck', args: string[], opts: ExecOptions = {}): Promise<ExecResult> {
  return exec(tool, args, { ...opts, env: { ...opts.env, ...(await noSyncEnv()) } });
}

export interface ImageStat {
  type: 'regular' | 'directory' | 'symlink' | 'other';
  /** Permission bits (debugfs prints no type bits). */
  mode: number;
  uid: number;
  gid: number;
}

/** Whether debugfs takes `path` as one word: absolute, no spaces, quotes or control characters. */
export function isDebugfsWord(path: string): boolean {
  return path.startsWith('/') && !/[\s"'\\\x00-\x1f]/.test(path);
}

function word(path: string): string {
  if (!isDebugfsWord(path)) throw new Error(`${JSON.stringify(path)} cannot be given to debugfs`);
  return path;
}

/** A file's contents (a link at `path` is not followed); undefined when it is not there. */
export async function readImageFile(image: string, path: string, opts: ExecOptions = {}): Promise<string | undefined> {
  const r = await e2tool('debugfs', ['-R', `cat ${word(path)}`, image], { ...opts, reject: false, keepFinalNewline: true });
  return /File not found|not found by ext2_lookup/.test(r.stderr) ? undefined : r.stdout;
}

/** The inode at `path` (links above it followed inside the image, a link at it not). */
export async function statImageFile(image: string, path: string, opts: ExecOptions = {}): Promise<ImageStat | undefined> {
  const r = await e2tool('debugfs', ['-R', `stat ${word(path)}`, image], { ...opts, reject: false });
  return parseStat(r.stdout);
}

function parseStat(text: string): ImageStat | undefined {
  const head = /Type: (\w+)\s+Mode:\s+(\d+)/.exec(text);
  const owner = /User:\s+(\d+)\s+Group:\s+(\d+)/.exec(text);
  if (!head || !owner) return undefined;
  const type = head[1] === 'regular' || head[1] === 'directory' || head[1] === 'symlink' ? head[1] : 'other';
  return { type, mode: parseInt(head[2]!, 8), uid: Number(owner[1]), gid: Number(owner[2]) };
}

/** statImageFile of several paths in one debugfs run (it echoes each command before its output). */
export async function statImageFiles(image: string, paths: readonly string[], opts: ExecOptions = {}): Promise<Map<string, ImageStat | undefined>> {
  const out = new Map<string, ImageStat | undefined>();
  const unique = [...new Set(paths.map(word))];
  if (!unique.length) return out;
  const r = await e2tool('debugfs', ['-f', '-', image], { ...opts, input: unique.map((p) => `stat ${p}\n`).join(''), reject: false, onLine: undefined });
  const sections = r.stdout.split(/^debugfs: stat (\S+)$/m);
  const found = new Map<string, string>();
  for (let i = 1; i + 1 < sections.length; i += 2) found.set(sections[i]!, sections[i + 1]!);
  for (const p of unique) out.set(p, found.has(p) ? parseStat(found.get(p)!) : undefined);
  return out;
}

/** stderr lines debugfs prints for things that are fine here (removing what is not there). */
const HARMLESS = [/^debugfs \d/, /^rm: File not found by ext2_lookup/, /^\s*$/];

/**
 * Run `script` (debugfs commands, one a line) on the image in one debugfs
 * run, times faked to `epoch` when given; any error debugfs reports fails it.
 * With `undo`, debugfs saves the old contents of every block it overwrites
 * in that (new) undo file: host/e2undo reads back which ranges it wrote.
 */
export async function runDebugfsScript(image: string, script: string, opts: { epoch?: number; exec?: ExecOptions; undo?: string } = {}): Promise<void> {
  const env: Record<string, string> = opts.epoch === undefined ? {} : { E2FSPROGS_FAKE_TIME: String(opts.epoch), SOURCE_DATE_EPOCH: String(opts.epoch) };
  const r = await e2tool('debugfs', [...(opts.undo ? ['-z', opts.undo] : []), '-w', '-f', '-', image], { ...opts.exec, input: script, env, onLine: undefined });
  const errors = r.stderr.split('\n').filter((l) => !HARMLESS.some((h) => h.test(l)));
  if (errors.length) throw new Error(`debugfs could not edit ${image}:\n${errors.slice(0, 15).join('\n')}`);
}
