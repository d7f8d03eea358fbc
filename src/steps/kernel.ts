/**
 * `kernel`: build a UML kernel (ARCH=um) from source and install its modules
 * into the root tree (/lib/modules/<release>, depmod'ed). The source is
 * Debian's `linux-source-X` package or a kernel tree or tarball; the config is
 * `defconfig` or a file, with umlbuild's base fragment (kernel/umlbuild.config:
 * what umlbuild's recipes and launch lines need), the recipe's fragments and
 * `options` merged over it the way scripts/kconfig/merge_config.sh does. An
 * option that does not survive `make olddefconfig` is reported as a warning.
 * The result is cached (kernel/build.ts: keyed by the source's identity, the
 * config inputs and the toolchain); its `linux` travels with the image
 * (facts.kernel). As root, make runs as the unprivileged `umlbuild-build`
 * (kernel/builder.ts): a kernel tree is outside input.
 *
 * ```yaml
 * - step: kernel
 *   source: linux-source-6.1     # default; or /abs/path/to/linux (a tree or a tarball)
 *   config: defconfig            # default; or a config file, relative to the recipe
 *   fragments: [kernel/debug.config]   # relative to the recipe, merged in order
 *   options: { CONFIG_LOCALVERSION: '"-mine"', CONFIG_DUMMY: m }
 *   modules: true                # default: install the modules into the image
 *   base: true                   # default: umlbuild's base fragment first
 * ```
 */
import { existsSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { z } from 'zod';
import { defaultCacheDir } from '../cache/store.js';
import { stageIntoRoot } from '../host/stage-tree.js';
import { buildUser } from '../kernel/builder.js';
import { buildKernel, kernelKey } from '../kernel/build.js';
import { describeDropped, OPTION_NAME, OPTION_VALUE } from '../kernel/config.js';
import { PACKAGE_NAME, sourceProblem, sourceRef } from '../kernel/source.js';
import type { KernelRequest } from '../model/kernel.js';
import { sourcePath } from './source-path.js';
import type { Step } from './types.js';
import { lstat } from 'node:fs/promises';

export const DEFAULT_KERNEL_SOURCE = 'linux-source-6.1';

const optionValue = z
  .union([z.string(), z.number().int()])
  .transform(String)
  .refine((v) => OPTION_VALUE.test(v), 'a value as a .config writes it: y, m, n, a quoted "string" or a number');

const schema = z
  .object({
    source: z.string().min(1).default(DEFAULT_KERNEL_SOURCE),
    config: z.string().min(1).default('defconfig'),
    fragments: z.array(z.string().min(1)).default([]),
    options: z
      .record(z.string(), optionValue)
      .superRefine((opts, ctx) => {
        for (const k of Object.keys(opts)) if (!OPTION_NAME.test(k)) ctx.addIssue({ code: 'custom', path: [k], message: `${k} is not an option name: option names are CONFIG_NAME` });
      })
      .default({}),
    modules: z.boolean().default(true),
    base: z.boolean().default(true),
  })
  .strict();

type Options = z.infer<typeof schema>;

/** The KernelRequest of a kernel step's options, paths resolved against the recipe's directory. */
export function kernelRequest(o: Pick<Options, 'source' | 'config' | 'fragments' | 'options' | 'base'>, recipeDir: string): KernelRequest {
  const path = (p: string) => (isAbsolute(p) ? p : resolve(recipeDir, p));
  return {
    source: PACKAGE_NAME.test(o.source) ? o.source : isAbsolute(o.source) ? o.source : sourcePath(o.source, recipeDir),
    config: o.config === 'defconfig' ? 'defconfig' : path(o.config),
    fragments: o.fragments.map(path),
    options: o.options,
    umlbuildBase: o.base,
  };
}

/** The tools a kernel build runs (host/tools.ts names their packages). */
export const KERNEL_BUILD_TOOLS = ['make', 'gcc', 'flex', 'bison', 'bc', 'tar', 'xz', 'depmod'] as const;

export const kernel: Step<Options> = {
  kind: 'kernel',
  summary: 'build a UML kernel from source (cached) and install its modules into the image',
  schema,
  traits: {
    requires: ['root'],
    leavesEdits: true,
    // What keys the kernel (source identity, config inputs, toolchain): a changed input changes the base image's key.
    cacheInputs: async (o, ctx) => {
      const cacheRoot = ctx.digestMemo ? dirname(ctx.digestMemo) : defaultCacheDir();
      const { fields } = await kernelKey(kernelRequest(o, ctx.recipeDir), { cacheRoot, exec: ctx.exec }, await buildUser());
      return { kernel: fields, modules: o.modules };
    },
  },
  title: (o) => `Build the UML kernel from ${o.source}${o.config !== 'defconfig' ? ` with ${o.config}` : ''}`,
  async verify(o, ctx) {
    if (o.modules) ctx.requireRoot('the modules in the image belong to root', { userns: true });
    for (const t of KERNEL_BUILD_TOOLS) await ctx.requireTool(t);
    const req = kernelRequest(o, ctx.recipeDir);
    let ref: ReturnType<typeof sourceRef> | undefined;
    try {
      ref = sourceRef(req.source);
    } catch (e) {
      ctx.problem((e as Error).message, 'source');
    }
    if (ref) {
      const problem = await sourceProblem(ref);
      if (ref.kind === 'tree' && existsSync(join(ref.given, '.git'))) await ctx.requireTool('git');
      if (problem) {
        if (ref.kind === 'package') ctx.requireHost(problem);
        else ctx.problem(problem, 'source');
      }
    }
    const regular = async (file: string, key: string) => {
      const st = await lstat(file).catch(() => undefined);
      if (!st) ctx.problem(`${file} does not exist`, key);
      else if (!st.isFile()) ctx.problem(`${file} is ${st.isSymbolicLink() ? 'a symbolic link' : 'not a regular file'}: a config file must be a regular file`, key);
    };
    if (req.config !== 'defconfig') await regular(req.config, 'config');
    for (const [i, f] of req.fragments.entries()) await regular(f, `fragments[${i}]`);
  },
  async run(o, ctx) {
    const root = o.modules ? ctx.requireRootfs() : undefined;
    const cacheRoot = ctx.cache ? dirname(ctx.cache.dir) : defaultCacheDir();
    const r = await buildKernel(kernelRequest(o, ctx.recipeDir), { cacheRoot, exec: ctx.exec, log: ctx.log, signal: ctx.signal, refresh: ctx.refreshCache });
    ctx.log(`kernel ${r.release}: ${r.cached ? 'from the cache' : 'built'} in ${r.seconds} s (${r.dir})`);
    for (const d of r.dropped) ctx.log(`warning: ${describeDropped(d)}`);
    if (root && r.modules) {
      // tar unpacks into a fresh staging directory, moved into the tree with every path resolved inside it.
      await stageIntoRoot(root, (staging) => ctx.exec('tar', ['-x', '-f', `${r.dir}/modules.tar`, '-C', staging]).then(() => undefined), { step: 'kernel', allow: [] });
    }
    // The manifest's kernel.modules: the version whose modules the image holds.
    if (root && r.modules) ctx.facts.kernelVersion = r.release;
    ctx.facts.kernel = { key: r.key, dir: r.dir, release: r.release, sha256: r.sha256, configSha256: r.configSha256, modules: r.modules };
  },
};

/** The KernelRequest of a recipe's (first) kernel step, or undefined when it has none (`umlbuild kernel RECIPE`). */
export function recipeKernelRequest(steps: readonly { kind: string; options: unknown }[], recipeDir: string): KernelRequest | undefined {
  const step = steps.find((s) => s.kind === kernel.kind);
  return step ? kernelRequest(step.options as Options, recipeDir) : undefined;
}
