/**
 * `directory`: assemble the rootfs in a plain directory instead of a mounted
 * image. No loop device, no mount.
 *
 * - Directory-first images: a temporary tree that a later `pack` step turns
 *   into the image with `mkfs.ext4 -d`. `tmpfs: true` keeps the tree in
 *   /dev/shm (writing there is much faster than a directory on the host disk;
 *   it needs the tree's size in free memory). `fs` is the filesystem the tree
 *   will be packed into (what fstab says).
 * - The hostfs-root variant (`hostfs: true`, which `--variant hostfs` sets in
 *   place of sparse-disk, mkfs, mount and unmount): the tree is the output,
 *   built under a temporary name beside it and renamed at the end, and UML
 *   boots it with `root=/dev/root rootfstype=hostfs hostfs=DIR`.
 *
 * ```yaml
 * - step: directory
 *   tmpfs: true
 * ```
 */
import { chmod, mkdir } from 'node:fs/promises';
import { dir as tmpDir } from 'tmp-promise';
import { z } from 'zod';
import type { Step } from './types.js';
import { removeTree } from '../host/remove-tree.js';

const schema = z
  .object({
    tmpfs: z.boolean().default(false),
    fs: z.enum(['ext2', 'ext3', 'ext4']).default('ext4'),
    hostfs: z.boolean().default(false),
  })
  .strict();

export const directory: Step<z.infer<typeof schema>> = {
  kind: 'directory',
  summary: 'assemble the rootfs in a plain directory (for pack, or the hostfs root)',
  schema,
  traits: { provides: ['root'] },
  title: (o) => (o.hostfs ? 'Create root directory (hostfs)' : `Create a ${o.tmpfs ? 'tmpfs' : 'temporary'} root directory`),
  async run(o, ctx) {
    if (ctx.rootfs) throw new Error('a rootfs already exists: directory cannot follow mount');
    if (o.hostfs) {
      await mkdir(ctx.rootDir, { mode: 0o755 });
      ctx.rootfs = ctx.rootDir;
      ctx.facts.fsType = 'hostfs';
    } else {
      const tmp = await tmpDir({ prefix: 'umlbuild-tree-', ...(o.tmpfs ? { tmpdir: '/dev/shm' } : {}) });
      // Never cross into something still mounted below the tree.
      ctx.teardown.defer(`remove ${tmp.path}`, () => removeTree(tmp.path, ctx.log), { resource: { kind: 'tree', path: tmp.path } });
      // A root directory's mode, not tmp's 0700: apt inside (mmdebstrap) drops to _apt and must reach
      // the tree, or it falls back to root and the image depends on where the tree was built.
      await chmod(tmp.path, 0o755);
      ctx.rootfs = tmp.path;
      ctx.facts.fsType = o.fs;
    }
    ctx.log(`assembling the rootfs in ${ctx.rootfs}`);
  },
};
