/**
 * Turning "No space left on device" into what to enlarge: the output
 * filesystem (nearly full), the tmpfs a directory-first tree lives in, or the
 * image itself (the sparse-disk or pack size). EFBIG, too large a size for
 * the output filesystem, is explained by size-limit.ts.
 */
import { statfs } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Plan } from '../recipe/load.js';
import { fileTooBigHint } from './size-limit.js';
import { sizedSteps } from '../steps/select.js';

const NO_SPACE = /No space left on device|ENOSPC|Could not allocate block|Disk quota exceeded|short write/i;

/** Free bytes of the filesystem holding `path` (undefined when it cannot be asked). */
async function freeBytes(path: string): Promise<number | undefined> {
  const st = await statfs(path).catch(() => undefined);
  return st ? st.bavail * st.bsize : undefined;
}

export async function noSpaceHint(error: unknown, plan: Plan, image: string, rootfs?: string, rootfsIsImage = false): Promise<string | undefined> {
  const tooBig = fileTooBigHint(error, plan, image);
  if (tooBig) return tooBig;
  const text = error instanceof Error ? error.message : String(error);
  if (!NO_SPACE.test(text)) return undefined;
  const outFree = await freeBytes(dirname(image));
  if (outFree !== undefined && outFree < 32 * 2 ** 20) return `the output filesystem (${dirname(image)}) is full (${(outFree / 2 ** 20).toFixed(1)} MiB free): free space there or build into another --out`;
  if (rootfs && !rootfsIsImage && !rootfs.startsWith(dirname(image))) {
    const treeFree = await freeBytes(rootfs);
    if (treeFree !== undefined && treeFree < 32 * 2 ** 20) return `the filesystem holding the tree (${rootfs}) is full: free space there (for /dev/shm: memory), or use tmpfs: false`;
  }
  const first = sizedSteps(plan.steps)[0];
  if (!first) return 'a filesystem is full';
  const { ps: sized, size } = first;
  return `the image is too small for what the recipe puts in it: enlarge the size of steps[${sized.index}] ${sized.kind} (now ${size}; ${sized.file}:${sized.line ?? '?'}), e.g. --set size=... where the recipe has a size variable`;
}
