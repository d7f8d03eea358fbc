/**
 * `overlay`: copy a file tree into the rootfs, keeping modes. `source` is a
 * directory under the project's overlays/ or a path relative to the recipe.
 * Files are owned by root unless `owner` says otherwise. The tree is unpacked
 * by tar running inside the chroot, so links in the image resolve inside it.
 *
 * ```yaml
 * - step: overlay
 *   source: uml-console        # overlays/uml-console, or ./files/etc-extra
 *   dest: /                    # optional, default /
 *   owner: root:root           # optional
 * ```
 */
import { existsSync, statSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { file as tmpFile } from 'tmp-promise';
import { z } from 'zod';
import { mkdirInRoot } from '../host/rootfs-path.js';
import { guestPath } from './options.js';
import type { Step } from './types.js';

export const OVERLAYS_DIR = fileURLToPath(new URL('../../overlays/', import.meta.url));

const schema = z
  .object({
    source: z.string().min(1),
    dest: guestPath.default('/'),
    owner: z.string().regex(/^[\w.-]+(:[\w.-]+)?$/, 'use USER or USER:GROUP').default('root:root'),
  })
  .strict();

type Options = z.infer<typeof schema>;

export function overlaySource(source: string, recipeDir: string): string {
  if (isAbsolute(source)) return source;
  if (source.startsWith('.')) return resolve(recipeDir, source);
  const named = resolve(OVERLAYS_DIR, source);
  return existsSync(named) ? named : resolve(recipeDir, source);
}

export const overlay: Step<Options> = {
  kind: 'overlay',
  summary: 'copy a file tree (overlays/<name> or a recipe-relative path) into the rootfs',
  schema,
  title: (o) => `Copy overlay ${o.source} to ${o.dest}`,
  async verify(o, ctx) {
    ctx.requireRoot('files in the image belong to root');
    await ctx.requireTool('tar');
    const src = overlaySource(o.source, ctx.recipeDir);
    if (!existsSync(src) || !statSync(src).isDirectory()) ctx.problem(`overlay directory ${src} does not exist`, 'source');
  },
  async run(o, ctx) {
    const root = ctx.requireRootfs();
    const src = overlaySource(o.source, ctx.recipeDir);
    const [user, group = user] = o.owner.split(':');
    const tar = await tmpFile({ prefix: 'umlbuild-overlay-', postfix: '.tar' });
    try {
      await ctx.exec('tar', ['-C', src, `--owner=${user}`, `--group=${group}`, '-cf', tar.path, '.']);
      await mkdirInRoot(root, o.dest);
      // tar inside the chroot: every path it writes resolves as the guest sees it.
      await ctx.exec('chroot', [root, 'tar', '-C', o.dest, '--keep-directory-symlink', '--no-overwrite-dir', '-xpf', '-'], { inputFile: tar.path });
    } finally {
      await tar.cleanup();
    }
  },
};
