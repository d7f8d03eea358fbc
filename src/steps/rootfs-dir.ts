/**
 * `rootfs-dir`: start from a root filesystem tree someone else made (a
 * Buildroot or OpenWRT TARGET_DIR, an unpacked image) instead of
 * bootstrapping one: a faithful copy (`cp -a`: owners, modes, links, device
 * nodes, hard links) into the rootfs. Build systems that assemble their tree
 * as an ordinary user fix ownership only when they make their images;
 * `owner: root:root` gives every file to root, as they would. The copy goes
 * into a fresh staging directory and is moved into the tree with every path
 * resolved inside the root (host/stage-tree), so links already in the tree
 * never lead onto the host. Device nodes and fifos are refused unless the
 * step says `allow: [devices]`; sockets always.
 *
 * ```yaml
 * - step: directory
 * - step: rootfs-dir
 *   source: ${rootfs}
 *   owner: root:root          # optional
 *   allow: [devices]          # optional: keep device nodes and fifos
 * ```
 */
import { existsSync, statSync } from 'node:fs';
import { sourcePath } from './source-path.js';
import { z } from 'zod';
import { rootfsAllow, ROOTFS_ALWAYS_ALLOWED } from './options.js';
import { stageIntoRoot } from '../host/stage-tree.js';
import type { Step } from './types.js';
import { treeDigest } from '../cache/tree-digest.js';

const schema = z
  .object({
    source: z.string().min(1),
    owner: z
      .string()
      .regex(/^\d+:\d+$|^root:root$/, 'root:root or numeric UID:GID')
      .optional(),
    allow: rootfsAllow,
  })
  .strict();
type Options = z.infer<typeof schema>;

const sourceDir = (o: Options, recipeDir: string) => sourcePath(o.source, recipeDir);

export const rootfsDir: Step<Options> = {
  kind: 'rootfs-dir',
  summary: 'copy a root filesystem tree made elsewhere (Buildroot/OpenWRT TARGET_DIR) into the rootfs',
  schema,
  traits: {
    requires: ['root'],
    provides: ['system'],
    // Contents, link targets, modes, owners and times of everything in the tree.
    cacheInputs: async (o, ctx) => ({ tree: await treeDigest(sourcePath(o.source, ctx.recipeDir), { memo: ctx.digestMemo }) }),
  },
  title: (o) => `Copy the tree ${o.source}`,
  async verify(o, ctx) {
    ctx.requireRoot('the files keep their owners', { userns: true });
    const src = sourceDir(o, ctx.recipeDir);
    if (!existsSync(src) || !statSync(src).isDirectory()) ctx.problem(`directory ${src} does not exist`, 'source');
  },
  async run(o, ctx) {
    const root = ctx.requireRootfs();
    const src = sourceDir(o, ctx.recipeDir);
    const copy = async (dir: string) => {
      await ctx.exec('cp', ['-a', '--', `${src}/.`, dir]);
      if (o.owner) await ctx.exec('chown', ['-R', '--no-dereference', o.owner === 'root:root' ? '0:0' : o.owner, dir]);
    };
    await stageIntoRoot(root, copy, { step: 'rootfs-dir', allow: [...ROOTFS_ALWAYS_ALLOWED, ...o.allow], topAttributes: true });
    ctx.log(`copied ${src} into ${root}${o.owner ? ` (owner ${o.owner})` : ''}`);
  },
};
