/**
 * The image applier: carries out file edits on a packed ext2/3/4 image with
 * debugfs (no loop device, no mount, no root), as a warm build does on a
 * copy of a cached base image (runner/fast-path). Paths resolve inside the
 * image's own tree. It refuses, with NotEditable and the reason, what it
 * cannot do the way the tree applier would: a path debugfs cannot take as one
 * word, a link at an edited path (the tree follows or replaces it inside the
 * root), a directory to make under a link, a device node, a hard link, the
 * removal of a directory. Nothing is written until every edit is planned.
 */
import { copyFile, writeFile } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { dir as tmpDir } from 'tmp-promise';
import { UserError } from '../errors.js';
import type { ExecOptions } from '../host/exec.js';
import { type ImageStat, isDebugfsWord, readImageFile, runDebugfsScript, statImageFile, statImageFiles } from '../host/debugfs.js';
import type { TreeJournal } from '../host/safe-write.js';
import { type ByteRange, writtenRanges } from '../host/e2undo.js';
import { assertEdits, dir, type EditTarget, type FileEdit, isHostFile, NotEditable } from './model.js';

/** A path debugfs can take as one word, or NotEditable. */
export function checkImagePath(path: string): string {
  if (!isDebugfsWord(path)) throw new NotEditable(`${JSON.stringify(path)} cannot be edited with debugfs`);
  return path;
}

/** A link target debugfs can take as one word (relative ones too). */
function linkTarget(target: string): string {
  checkImagePath(target.startsWith('/') ? target : `/${target}`);
  return target;
}

const linkInImage = (path: string) => new NotEditable(`${path} is a link in the image`);

/** Read-only view of an image; a link at a path read is refused (the tree would follow it inside the root). */
export function imageTarget(image: string, opts: ExecOptions = {}): EditTarget {
  const stat = async (path: string) => {
    const st = await statImageFile(image, checkImagePath(path), opts);
    if (st?.type === 'symlink') throw linkInImage(path);
    return st;
  };
  return {
    stat,
    readFile: async (path) => ((await stat(path))?.type === 'regular' ? readImageFile(image, path, opts) : undefined),
  };
}

/**
 * The edits as debugfs will make them: missing parents made (0755, root's),
 * directories the image has left out, everything checked against the image
 * first. Throws NotEditable for what debugfs cannot do.
 */
export async function planImageEdits(image: string, edits: readonly FileEdit[], opts: ExecOptions = {}): Promise<FileEdit[]> {
  const known = new Map<string, ImageStat['type'] | undefined>();
  // Every path the plan may look up (each edited path and the directories above it), in one debugfs run.
  const wanted = edits.flatMap((e) => {
    if (!isDebugfsWord(e.path)) return [];
    const parts = posix.normalize(e.path).split('/').filter(Boolean);
    return parts.map((_, i) => `/${parts.slice(0, i + 1).join('/')}`);
  });
  for (const [p, st] of await statImageFiles(image, wanted, opts)) known.set(p, st?.type);
  const lookup = async (p: string) => {
    if (!known.has(p)) known.set(p, (await statImageFile(image, p, opts))?.type);
    return known.get(p);
  };
  const out: FileEdit[] = [];
  for (const e of edits) {
    const path = posix.normalize(checkImagePath(e.path));
    if (e.kind === 'device') throw new NotEditable(`${path}: debugfs here makes no device nodes or fifos; the tree build does`);
    if (e.kind === 'hardlink') throw new NotEditable(`${path}: debugfs here makes no hard links; the tree build does`);
    if (e.kind === 'symlink') linkTarget(e.target);
    const parts = path.split('/').filter(Boolean);
    for (let i = 1; i < parts.length; i++) {
      const prefix = `/${parts.slice(0, i).join('/')}`;
      const type = await lookup(prefix);
      if (type === undefined) {
        const above = posix.dirname(prefix);
        if (above !== '/' && (await lookup(above)) === 'symlink') throw linkInImage(above);
        out.push(dir(prefix));
        known.set(prefix, 'directory');
      } else if (type !== 'directory' && type !== 'symlink') throw new UserError(`${prefix} exists in the rootfs and is not a directory`);
    }
    // debugfs follows links above a name, but not one that is the name's own directory.
    const parent = posix.dirname(path);
    if (parent !== '/' && (await lookup(parent)) === 'symlink') throw linkInImage(parent);
    const type = path === '/' ? 'directory' : await lookup(path);
    if (e.kind === 'remove') {
      if (type === 'directory') throw new NotEditable(`${path}: debugfs here removes no directories; the tree build does`);
      if (type !== undefined) out.push({ kind: 'remove', path });
      known.set(path, undefined);
      continue;
    }
    if (type === 'symlink') throw linkInImage(path);
    if (e.kind === 'dir') {
      if (type === 'directory') continue;
      if (type !== undefined) throw new UserError(`${path} exists in the rootfs and is not a directory`);
    } else if (type === 'directory') throw new Error(`${path} is a directory in the image`);
    out.push({ ...e, path });
    known.set(path, e.kind === 'dir' ? 'directory' : e.kind === 'file' ? 'regular' : 'symlink');
  }
  return out;
}

const TYPE_BITS = { file: 0o100000, dir: 0o040000 };

/** The debugfs script for planned `edits`, with file contents staged at `staged(i)`; times set to `epoch` when given. */
export function editScript(edits: readonly FileEdit[], staged: (i: number) => string, epoch?: number): string {
  const lines: string[] = [];
  const stamp = (p: string) => (epoch === undefined ? [] : ['mtime', 'atime', 'ctime', 'crtime'].map((f) => `sif ${p} ${f} ${epoch}`));
  edits.forEach((e, i) => {
    const p = checkImagePath(e.path);
    if (e.kind === 'dir') lines.push(`mkdir ${p}`, `sif ${p} mode 0${(TYPE_BITS.dir | (e.mode & 0o7777)).toString(8)}`);
    else if (e.kind === 'file') lines.push(`rm ${p}`, `write ${staged(i)} ${p}`, `sif ${p} mode 0${(TYPE_BITS.file | (e.mode & 0o7777)).toString(8)}`);
    else if (e.kind === 'symlink') lines.push(`rm ${p}`, `symlink ${p} ${linkTarget(e.target)}`);
    else if (e.kind === 'remove') lines.push(`rm ${p}`);
    else throw new NotEditable(`${p}: debugfs here makes no ${e.kind === 'device' ? 'device nodes' : 'hard links'}`);
    if (e.kind !== 'remove') lines.push(`sif ${p} uid ${e.owner?.uid ?? 0}`, `sif ${p} gid ${e.owner?.gid ?? 0}`, ...stamp(p));
    lines.push(...stamp(p.slice(0, p.lastIndexOf('/')) || '/'));
  });
  return `${lines.join('\n')}\n`;
}

/**
 * Apply `edits` in order to the image in one debugfs run, after planning
 * them all (so a refusal leaves the image as it was). File contents are
 * staged in a private temporary tree, journaled while it exists. `undo`: a
 * new debugfs undo file listing the blocks written (not made when nothing
 * is); the byte ranges debugfs wrote are added to `written` when given.
 */
export async function applyImageEdits(image: string, edits: readonly FileEdit[], opts: { epoch?: number; exec?: ExecOptions; journal?: TreeJournal; undo?: string; written?: ByteRange[] } = {}): Promise<number> {
  assertEdits(edits);
  const planned = await planImageEdits(image, edits, opts.exec);
  if (!planned.length) return 0;
  const staging = await tmpDir({ prefix: 'umlbuild-edits-', unsafeCleanup: true });
  const journaled = opts.journal?.add({ kind: 'tree', path: staging.path });
  try {
    const staged = (i: number) => join(staging.path, String(i));
    for (const [i, e] of planned.entries()) {
      if (e.kind !== 'file') continue;
      if (isHostFile(e.content)) await copyFile(e.content.hostFile, staged(i));
      else await writeFile(staged(i), e.content);
    }
    // With `written`: debugfs keeps an undo file, which lists the byte ranges it wrote (the block map's update reads them).
    const undo = opts.undo ?? (opts.written ? join(staging.path, 'undo') : undefined);
    await runDebugfsScript(image, editScript(planned, staged, opts.epoch), { epoch: opts.epoch, exec: opts.exec, undo });
    if (undo && opts.written) opts.written.push(...(await writtenRanges(undo)).ranges);
    return planned.length;
  } finally {
    await staging.cleanup();
    if (journaled !== undefined) opts.journal!.forget(journaled);
  }
}
