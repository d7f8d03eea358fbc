/**
 * `directory`: assemble the rootfs in a plain directory instead of an image:
 * the hostfs-root variant, which UML boots with `root=/dev/root
 * rootfstype=hostfs hostfs=DIR`. No loop device, no mount. The directory is
 * built under a temporary name beside the output and renamed at the end.
 * `--variant hostfs` (or `rootfs: hostfs` in a recipe) puts this step in
 * place of sparse-disk, mkfs, mount and unmount.
 *
 * ```yaml
 * - step: directory
 * ```
 */
import { mkdir } from 'node:fs/promises';
import { z } from 'zod';
import type { Step } from './types.js';

const schema = z.object({}).strict();

export const directory: Step<z.infer<typeof schema>> = {
  kind: 'directory',
  summary: 'assemble the rootfs in a plain directory (hostfs root) instead of an image',
  schema,
  title: () => 'Create root directory (hostfs)',
  async run(_o, ctx) {
    if (ctx.rootfs) throw new Error('a rootfs already exists: directory cannot follow mount');
    await mkdir(ctx.rootDir, { mode: 0o755 });
    ctx.rootfs = ctx.rootDir;
    ctx.facts.fsType = 'hostfs';
    ctx.log(`assembling the rootfs in ${ctx.rootDir}`);
  },
};
