/**
 * `unmount`: unmount the image and detach its loop device now (instead of at
 * the end of the build), then check the filesystem with `e2fsck -fn`, which
 * must be clean. Records installed packages for the manifest first.
 *
 * ```yaml
 * - step: unmount
 * ```
 */
import { z } from 'zod';
import type { Step } from './types.js';

const schema = z.object({ fsck: z.boolean().default(true) }).strict();

export const unmount: Step<z.infer<typeof schema>> = {
  kind: 'unmount',
  summary: 'unmount the image, detach the loop device and check the filesystem',
  schema,
  traits: { requires: ['mount'], releases: ['mount', 'root'], imageOnly: true },
  title: () => 'Unmount image and check filesystem',
  async verify(o, ctx) {
    if (o.fsck) await ctx.requireTool('e2fsck');
  },
  async run(o, ctx) {
    if (!ctx.mounted) throw new Error('the image is not mounted: put a mount step before unmount');
    await ctx.collectFacts();
    await ctx.mounted.release();
    ctx.mounted = undefined;
    ctx.rootfs = undefined;
    if (o.fsck && (ctx.facts.fsType ?? 'ext4').startsWith('ext')) await ctx.exec('e2fsck', ['-fn', ctx.image]);
  },
};
