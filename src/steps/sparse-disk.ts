/**
 * `sparse-disk`: create the sparse raw image file that later steps format and
 * mount. Its allocated size stays tiny until blocks are written.
 *
 * ```yaml
 * - step: sparse-disk
 *   size: 2G        # K, M, G or T suffix (binary units), or bytes
 * ```
 */
import { open } from 'node:fs/promises';
import { z } from 'zod';
import { parseSize } from '../model/size.js';
import type { Step, StepContext } from './types.js';

const MIN = 8 * 2 ** 20;

const schema = z
  .object({
    size: z.union([z.string(), z.number()]).superRefine((v, ctx) => {
      try {
        if (parseSize(v) < MIN) ctx.addIssue({ code: 'custom', message: `size ${v} is too small (at least 8M)` });
      } catch (e) {
        ctx.addIssue({ code: 'custom', message: (e as Error).message });
      }
    }),
  })
  .strict();

export const sparseDisk: Step<z.infer<typeof schema>> = {
  kind: 'sparse-disk',
  summary: 'create a sparse raw disk image of a given size',
  schema,
  traits: { provides: ['image'], imageOnly: true, size: (o) => o.size },
  title: (o) => `Create sparse disk (${o.size})`,
  async run(o, ctx) {
    const bytes = parseSize(o.size);
    await createSparseImage(ctx, bytes);
    ctx.log(`${ctx.image}: ${bytes} bytes apparent, 0 allocated`);
  },
};

/** Create ctx.image as a sparse file of `bytes` ('wx': the runner gave a fresh temporary name). */
export async function createSparseImage(ctx: StepContext, bytes: number): Promise<void> {
  const fh = await open(ctx.image, 'wx', 0o644);
  ctx.imageCreated = true;
  try {
    await fh.truncate(bytes);
  } finally {
    await fh.close();
  }
}
