/**
 * `umlbuild kernel`: build a UML kernel (or take it from the cache) and write
 * it to a directory: DIR/linux, DIR/linux.config, DIR/System.map and
 * DIR/lib/modules/<release>. With a recipe, its kernel step's options; flags
 * replace (--source, --config) or add to them (--fragment, --set). Nothing is
 * written through a link in DIR: files are written under a new name and
 * renamed over the old one, modules are unpacked into a fresh staging
 * directory and moved in with every path resolved inside DIR.
 */
import { lstat, mkdir, readFile } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { EXIT, UserError } from '../errors.js';
import { exec } from '../host/exec.js';
import { writeReplacing } from '../host/safe-write.js';
import { stageIntoRoot } from '../host/stage-tree.js';
import { defaultCacheDir } from '../cache/store.js';
import { buildKernel } from '../kernel/build.js';
import { OPTION_NAME, OPTION_VALUE } from '../kernel/config.js';
import type { KernelBuildResult, KernelRequest } from '../model/kernel.js';
import { loadRecipe } from '../recipe/load.js';
import { DEFAULT_KERNEL_SOURCE, recipeKernelRequest } from '../steps/kernel.js';

export interface KernelCommandOptions {
  /** A recipe with a kernel step: its options are the starting point. */
  recipe?: string;
  /** Replaces the recipe's source (default linux-source-6.1): a package name or a path (relative to the working directory). */
  source?: string;
  /** Replaces the recipe's config: `defconfig` or a file. */
  config?: string;
  /** Added after the recipe's fragments (paths relative to the working directory). */
  fragments?: string[];
  /** CONFIG_X=value, merged last. */
  set?: string[];
  /** Without umlbuild's base fragment. */
  noBase?: boolean;
  /** Where to write linux, linux.config, System.map, lib/modules/<release>; none: only build (the cache keeps it). */
  out?: string;
  cacheDir?: string;
  refresh?: boolean;
  log?: (line: string) => void;
  signal?: AbortSignal;
}

export interface KernelCommandResult extends KernelBuildResult {
  /** The files written into `out` (absolute paths). */
  written: string[];
}

/** The options of `umlbuild kernel` as a KernelRequest. */
export async function kernelCommandRequest(o: KernelCommandOptions): Promise<KernelRequest> {
  const cwd = (p: string) => (isAbsolute(p) ? p : resolve(p));
  let req: KernelRequest = { source: DEFAULT_KERNEL_SOURCE, config: 'defconfig', fragments: [], options: {} };
  if (o.recipe) {
    const plan = await loadRecipe(o.recipe, { env: process.env });
    const r = recipeKernelRequest(plan.steps, plan.dir);
    if (!r) throw new UserError(`${o.recipe}: the recipe has no kernel step (give --source instead of a recipe)`, EXIT.invalid);
    req = r;
  }
  const options: Record<string, string> = { ...req.options };
  for (const s of o.set ?? []) {
    const at = s.indexOf('=');
    const [name, value] = at < 0 ? [s, ''] : [s.slice(0, at), s.slice(at + 1)];
    if (!OPTION_NAME.test(name)) throw new UserError(`--set ${s}: ${name} is not an option name (CONFIG_NAME=value)`, EXIT.invalid);
    if (!OPTION_VALUE.test(value)) throw new UserError(`--set ${s}: the value ${JSON.stringify(value)} is not y, m, n, a "quoted string" or a number`, EXIT.invalid);
    options[name] = value;
  }
  return {
    source: o.source ? (/^linux-source-/.test(o.source) ? o.source : cwd(o.source)) : req.source,
    config: o.config ? (o.config === 'defconfig' ? 'defconfig' : cwd(o.config)) : req.config,
    fragments: [...req.fragments, ...(o.fragments ?? []).map(cwd)],
    options,
    umlbuildBase: o.noBase ? false : req.umlbuildBase,
  };
}

/** Build (or take from the cache) and write the kernel into `o.out`. */
export async function kernel(o: KernelCommandOptions): Promise<KernelCommandResult> {
  const req = await kernelCommandRequest(o);
  const r = await buildKernel(req, { cacheRoot: o.cacheDir ?? defaultCacheDir(), exec: (cmd, args, opts) => exec(cmd, args, { onLine: o.log, ...opts }), log: o.log, signal: o.signal, refresh: o.refresh });
  const written = o.out ? await writeKernel(r, o.out, o.signal) : [];
  return { ...r, written };
}

/** Copy a built kernel's files into `dir` (created if missing), never through a link found there. */
export async function writeKernel(r: Pick<KernelBuildResult, 'dir' | 'release' | 'modules'>, dir: string, signal?: AbortSignal): Promise<string[]> {
  const out = resolve(dir);
  await mkdir(out, { recursive: true });
  const st = await lstat(out);
  if (!st.isDirectory()) throw new UserError(`--out ${dir} is not a directory`, EXIT.invalid);
  const written: string[] = [];
  for (const [from, to, mode] of [
    ['linux', 'linux', 0o755],
    ['config', 'linux.config', 0o644],
    ['System.map', 'System.map', 0o644],
  ] as const) {
    // A new file renamed over the name: a link planted there is replaced, never written through.
    await writeReplacing(join(out, to), await readFile(join(r.dir, from)), mode);
    written.push(join(out, to));
  }
  if (r.modules) {
    await stageIntoRoot(out, (staging) => exec('tar', ['-x', '-f', join(r.dir, 'modules.tar'), '-C', staging, '--no-same-owner'], { signal }).then(() => undefined), { step: 'kernel', allow: [] });
    written.push(join(out, 'lib', 'modules', r.release));
  }
  return written;
}
