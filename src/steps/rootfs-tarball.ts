/**
 * `rootfs-tarball`: start from a root filesystem someone else made (an
 * OpenWRT or Buildroot rootfs.tar, a docker export, a previous umlbuild pack)
 * instead of bootstrapping one. Unpacks tar, tar.gz, tar.xz or tar.zst into
 * the rootfs (a directory or a mounted image) with owners, modes, xattrs and
 * setuid files kept. tar unpacks into a fresh staging directory, never into
 * the tree itself, and the result is moved into the tree with every path
 * resolved inside the root (host/stage-tree): neither the tarball's links nor
 * links already in the tree lead a write onto the host. Device nodes and
 * fifos are refused unless the step says `allow: [devices]` (they would give
 * whoever reaches the tree, or a guest booted on it with hostfs, the host's
 * devices).
 *
 * ```yaml
 * - step: directory
 * - step: rootfs-tarball
 *   source: ${rootfs}          # a path, relative to the recipe
 *   allow: [devices]           # optional: keep device nodes and fifos
 * ```
 */
import { existsSync, statSync } from 'node:fs';
import { sourcePath } from './source-path.js';
import { z } from 'zod';
import { rootfsAllow, ROOTFS_ALWAYS_ALLOWED } from './options.js';
import { stageIntoRoot } from '../host/stage-tree.js';
import type { Step } from './types.js';
import { sha256File } from '../host/hashing.js';

const schema = z.object({ source: z.string().min(1), allow: rootfsAllow }).strict();
type Options = z.infer<typeof schema>;

const COMPRESSION: [RegExp, string, string][] = [
  [/\.(tar\.gz|tgz)$/, '--gzip', 'gzip'],
  [/\.(tar\.xz|txz)$/, '--xz', 'xz-utils'],
  [/\.(tar\.zst|tzst)$/, '--zstd', 'zstd'],
  [/\.tar$/, '', ''],
];

export const tarballPath = (o: Options, recipeDir: string) => sourcePath(o.source, recipeDir);

export const rootfsTarball: Step<Options> = {
  kind: 'rootfs-tarball',
  summary: 'unpack a root filesystem tarball (tar, tar.gz, tar.xz, tar.zst) into the rootfs',
  schema,
  traits: { requires: ['root'], provides: ['system'], cacheInputs: async (o, ctx) => ({ tarball: await sha256File(sourcePath(o.source, ctx.recipeDir)) }) },
  title: (o) => `Unpack ${o.source}`,
  async verify(o, ctx) {
    ctx.requireRoot('the files keep their owners (root)', { userns: true });
    await ctx.requireTool('tar');
    const file = tarballPath(o, ctx.recipeDir);
    const kind = COMPRESSION.find(([re]) => re.test(file));
    if (!kind) ctx.problem(`${file}: not a .tar, .tar.gz/.tgz, .tar.xz/.txz or .tar.zst/.tzst file name`, 'source');
    else if (kind[2] === 'xz-utils') await ctx.requireTool('xz');
    else if (kind[2] === 'zstd') await ctx.requireTool('zstd');
    if (!existsSync(file) || !statSync(file).isFile()) ctx.problem(`tarball ${file} does not exist`, 'source');
  },
  async run(o, ctx) {
    const root = ctx.requireRootfs();
    const file = tarballPath(o, ctx.recipeDir);
    const flag = COMPRESSION.find(([re]) => re.test(file))?.[1] ?? '';
    const tar = (dir: string) => ctx.exec('tar', [...(flag ? [flag] : []), '--numeric-owner', '--same-owner', '--preserve-permissions', '--xattrs', '--xattrs-include=*', '-xf', file, '-C', dir]).then(() => undefined);
    const count = await stageIntoRoot(root, tar, { step: 'rootfs-tarball', allow: [...ROOTFS_ALWAYS_ALLOWED, ...o.allow], topAttributes: true });
    ctx.log(`unpacked ${file} into ${root} (${count} entries moved in)`);
  },
};
