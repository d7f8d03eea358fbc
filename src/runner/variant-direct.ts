/**
 * COW variants written directly, without booting UML. Once per build the
 * finished base image is opened (pinned: never by name again, never through
 * a link) and copied (cp --sparse=always --reflink=auto) into a private
 * directory beside it. For each variant, its steps' file edits (`edits()`,
 * as a warm build makes them) are applied to that copy with debugfs and an
 * undo file (`debugfs -z`), which lists exactly the blocks written
 * (host/e2undo.ts); the COW file gets the sectors of those blocks that
 * differ from the base (uml/cow-write.ts), and the base's bytes go back into
 * the copy for the next variant. The base image is only read.
 *
 * A variant whose steps are not all file edits (a `run` step runs in the
 * guest), or whose edits debugfs cannot make (NotEditable), takes the UML
 * boot (runner/variants.ts); `directBlocker` and NotDirect say why.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import type { FileHandle } from 'node:fs/promises';
import { applyImageEdits, imageTarget } from '../edits/image.js';
import { type EditTarget, type FileEdit, NotEditable } from '../edits/model.js';
import { type ByteRange, mergeRanges, writtenRanges } from '../host/e2undo.js';
import { exec } from '../host/exec.js';
import { Journal } from '../host/journal.js';
import { openRegularFile, type PinnedFile, stillNames } from '../host/pinned-file.js';
import { UserError } from '../errors.js';
import { Teardown } from '../host/teardown.js';
import type { PlannedVariant } from '../recipe/variants.js';
import { traitsOf } from '../steps/select.js';
import { editContext } from '../steps/file-edits.js';
import { editsFiles, type StepContext } from '../steps/types.js';
import { cowSizeProblem, writeCowFromCopy } from '../uml/cow-write.js';

/** A variant that cannot be written directly: why (it is then made by a UML boot). */
export class NotDirect extends Error {}

/** Why the variant's steps cannot all be written as file edits, if they cannot. */
export function directBlocker(v: Pick<PlannedVariant, 'steps'>): string | undefined {
  for (const ps of v.steps) {
    if (traitsOf(ps).inVariant === 'guest') return `its ${ps.kind} step (${ps.file}:${ps.line ?? '?'}) runs in the guest`;
    if (!editsFiles(ps.step)) return `its ${ps.kind} step (${ps.file}:${ps.line ?? '?'}) is not a file edit`;
  }
  return undefined;
}

const EXT_MAGIC = 0xef53;

/** Whether the open file holds an ext2/3/4 file system (superblock magic at byte 1080). */
async function isExt(f: PinnedFile): Promise<boolean> {
  const b = Buffer.alloc(2);
  const { bytesRead } = await f.fh.read(b, 0, 2, 1024 + 56);
  return bytesRead === 2 && b.readUInt16LE(0) === EXT_MAGIC;
}

interface Prepared {
  base: PinnedFile;
  dir: string;
  backingFile: string;
}

interface Copy {
  path: string;
  fh: FileHandle;
}

/** Put the base's bytes back into the copy over `ranges`. */
async function restoreRanges(base: PinnedFile, copy: FileHandle, ranges: readonly ByteRange[]): Promise<void> {
  const buf = Buffer.alloc(1 << 20);
  for (const [a, b] of ranges) {
    for (let at = a; at < b; at += buf.length) {
      const len = Math.min(buf.length, b - at);
      const { bytesRead } = await base.fh.read(buf, 0, len, at);
      if (bytesRead !== len) throw new Error(`short read of ${base.name} at byte ${at}`);
      await copy.write(buf, 0, len, at);
    }
  }
}

/** One build's direct COW writer over `baseImage`: `write` per variant, then `close`. */
export class DirectCows {
  private prepared?: Prepared;
  private copy?: Copy;
  private unusable?: string;
  private readonly journal = new Journal();
  private readonly teardown = new Teardown(undefined, this.journal);

  constructor(
    readonly baseImage: string,
    private readonly signal: AbortSignal,
  ) {}

  /** The pinned base and a private directory beside it, once; NotDirect when the base cannot take direct COWs. */
  private async prepare(): Promise<Prepared> {
    if (this.unusable) throw new NotDirect(this.unusable);
    if (this.prepared) return this.prepared;
    const base = await openRegularFile(this.baseImage, 'base image');
    this.teardown.defer(`close ${this.baseImage}`, () => base.close());
    const why = !(await isExt(base)) ? 'it is not an ext2/3/4 file system' : cowSizeProblem(base.stat.size);
    const backingFile = resolve(this.baseImage);
    if (why || Buffer.byteLength(backingFile) >= 4096) {
      this.unusable = why ? `the base image: ${why}` : 'the base image path is too long for a COW header';
      throw new NotDirect(this.unusable);
    }
    // Beside the base: the same file system, so cp can share blocks (reflink) where it supports that.
    const dir = await mkdtemp(join(dirname(this.baseImage), `.${basename(this.baseImage)}.variants-`));
    this.teardown.defer(`remove ${dir}`, () => rm(dir, { recursive: true, force: true }), { resource: { kind: 'tree', path: dir } });
    this.prepared = { base, dir, backingFile };
    return this.prepared;
  }

  /**
   * The base must still be the file opened first, under its name, with the
   * same size and mtime: a COW file records both, and names it by that path.
   */
  private async checkBase(p: Prepared): Promise<void> {
    const now = await p.base.fh.stat();
    if (!(await stillNames(this.baseImage, p.base)) || now.size !== p.base.stat.size || now.mtimeMs !== p.base.stat.mtimeMs) {
      throw new UserError(`the base image ${this.baseImage} was replaced or changed while its variants were written: refused`);
    }
  }

  /** A writable copy of the base (read through its descriptor), made once and kept equal to the base between variants. */
  private async theCopy(p: Prepared): Promise<Copy> {
    if (this.copy) return this.copy;
    const path = join(p.dir, 'copy.img');
    await rm(path, { force: true });
    try {
      await exec('cp', ['--sparse=always', '--reflink=auto', p.base.path, path], { signal: this.signal });
    } catch (e) {
      if (this.signal.aborted) throw e;
      // No room for a copy beside the base, say: the variants boot UML instead, which needs little room.
      await rm(path, { force: true });
      this.unusable = `copying the base image failed: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`;
      throw new NotDirect(this.unusable);
    }
    const f = await openRegularFile(path, 'copy of the base image', { write: true });
    this.copy = { path, fh: f.fh };
    return this.copy;
  }

  /** Forget the copy (it may differ from the base): the next variant makes it again. */
  private async dropCopy(): Promise<void> {
    const c = this.copy;
    this.copy = undefined;
    await c?.fh.close().catch(() => undefined);
    if (c) await rm(c.path, { force: true });
  }

  /**
   * Write variant `v`'s COW file at `cow` (a new file) from its steps' edits,
   * computed against the base with `ctx` (its variables). NotDirect (nothing
   * written, the copy back to the base) when debugfs cannot make an edit.
   */
  async write(v: PlannedVariant, cow: string, ctx: StepContext): Promise<{ sectors: number }> {
    const blocker = directBlocker(v);
    if (blocker) throw new NotDirect(blocker);
    const p = await this.prepare();
    await this.checkBase(p);
    const copy = await this.theCopy(p);
    const undos: string[] = [];
    let restored = false;
    try {
      // The steps' edits in one debugfs run, unless a step reads the image: what the steps before it edited is applied first.
      const pending: FileEdit[] = [];
      const flush = async () => {
        if (!pending.length) return;
        const undo = join(p.dir, `${v.name}.${undos.length}.undo`);
        undos.push(undo);
        await applyImageEdits(copy.path, pending.splice(0), { epoch: ctx.reproducible?.epoch, exec: { signal: this.signal }, journal: ctx.teardown.journal, undo });
      };
      const image = imageTarget(copy.path, { signal: this.signal });
      const target: EditTarget = {
        stat: async (path) => {
          await flush();
          return image.stat(path);
        },
        readFile: async (path) => {
          await flush();
          return image.readFile(path);
        },
      };
      for (const ps of v.steps) pending.push(...(await ps.step.edits!(ps.options, editContext(ctx, target))));
      await flush();
      const ranges = await this.ranges(undos);
      const r = await writeCowFromCopy({ cow, base: p.base, backingFile: p.backingFile, copy: copy.fh, ranges, restoreCopy: true });
      restored = true;
      return r;
    } catch (e) {
      if (e instanceof NotEditable) throw new NotDirect(`debugfs cannot make its edits: ${e.message}`);
      throw e;
    } finally {
      if (!restored) {
        // Back to the base over what the undo files list; when they cannot say, the copy is made again.
        await this.ranges(undos)
          .then((ranges) => restoreRanges(p.base, copy.fh, ranges))
          .catch(() => this.dropCopy());
      }
      for (const u of undos) await rm(u, { force: true });
    }
  }

  /** The ranges the undo files list (a step that changed nothing made none). */
  private async ranges(undos: string[]): Promise<ByteRange[]> {
    const all: ByteRange[] = [];
    for (const u of undos) {
      const r = await writtenRanges(u).catch((e: NodeJS.ErrnoException) => {
        if (e.code === 'ENOENT') return undefined;
        throw e;
      });
      if (r) all.push(...r.ranges);
    }
    return mergeRanges(all);
  }

  /** Remove the copy and close the base. */
  async close(): Promise<void> {
    await this.dropCopy();
    await this.teardown.unwind(false);
    this.journal.close();
  }
}
