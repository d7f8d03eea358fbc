/**
 * Image sizes against the largest file the output filesystem can hold: a
 * `size: 100T` image on ext4 (at most 16 TiB with 4 KiB blocks) is a recipe
 * error before anything is created, naming the size key; an EFBIG the check
 * did not foresee (another filesystem, ext3 without extents) is explained
 * the same way.
 */
import { statfs } from 'node:fs/promises';
import { dirname } from 'node:path';
import { RecipeError, type RecipeIssue } from '../errors.js';
import type { Plan } from '../recipe/load.js';
import { sizedSteps } from '../steps/select.js';
import { parseSize } from '../model/size.js';

/** Largest file by filesystem magic (statfs f_type) and block size; others are not known here. */
const LIMITS: Record<number, { name: string; max(bsize: number): number }> = {
  // ext2/3/4 share the magic; ext4 with extents: 2^32 - 1 blocks.
  61267: { name: 'ext4', max: (bsize) => (2 ** 32 - 1) * bsize },
  19780: { name: 'vfat', max: () => 2 ** 32 - 1 },
};

/** 16T for 16 TiB less a block: what a limit is, to a reader. */
const about = (bytes: number) => (bytes >= 2 ** 40 ? `${Math.round(bytes / 2 ** 40)}T` : `${Math.round(bytes / 2 ** 30)}G`);

/** The filesystem `path` is (or would be) on: its nearest existing ancestor's. */
async function statfsNearest(path: string): Promise<{ type: number; bsize: number } | undefined> {
  for (let p = path; ; p = dirname(p)) {
    const st = await statfs(p).catch(() => undefined);
    if (st) return { type: Number(st.type), bsize: Number(st.bsize) };
    if (dirname(p) === p) return undefined;
  }
}

/** Throws a RecipeError (exit 2) naming each size key larger than a file on outDir's filesystem may be. */
export async function checkImageSizes(plan: Plan, outDir: string): Promise<void> {
  const fs = await statfsNearest(outDir);
  const limit = fs && LIMITS[fs.type];
  if (!fs || !limit) return;
  const max = limit.max(fs.bsize);
  const issues: RecipeIssue[] = [];
  for (const { ps, size } of sizedSteps(plan.steps)) {
    const bytes = (() => {
      try {
        return parseSize(size);
      } catch {
        return 0; // the step's schema reports it
      }
    })();
    if (bytes <= max) continue;
    issues.push(
      ps.source.issue(
        [...ps.at, 'size'],
        `size ${String(size)} is larger than the largest file the output filesystem can hold (${limit.name} at ${outDir}, ${fs.bsize}-byte blocks: at most ${about(max)}): use a smaller size or build into another --out`,
      ),
    );
  }
  if (issues.length) throw new RecipeError(issues);
}

/** What to change when creating the image failed with EFBIG ("File too large"). */
export function fileTooBigHint(error: unknown, plan: Plan, image: string): string | undefined {
  // Only our own ftruncate of the image (sparse-disk, pack): a command's "File too large" may be about any file.
  const e = error as NodeJS.ErrnoException | undefined;
  if (e?.code !== 'EFBIG' || !/truncate/.test(e.syscall ?? '')) return undefined;
  const sized = sizedSteps(plan.steps)[0];
  const which = sized ? `the size of steps[${sized.ps.index}] ${sized.ps.kind} (${String(sized.size)}; ${sized.ps.file}:${sized.ps.line ?? '?'})` : 'the image size';
  return `${which} is larger than the output filesystem (${dirname(image)}) allows for one file: use a smaller size, or build into another --out`;
}
