/** The library calls behind the smaller commands: validate, cache, cleanup, COW files, boot, doctor, steps. */
import { ImageCache } from '../cache/images.js';
import { BootstrapCache, defaultCacheDir } from '../cache/store.js';
import { KernelCache } from '../kernel/build.js';
import { doctor as checkHost, type DoctorReport } from '../doctor.js';
import { cleanupStale, type CleanupReport } from '../host/journal.js';
import { journalDir } from '../host/state-dirs.js';
import { loadRecipe, type LoadOptions, type Plan } from '../recipe/load.js';
import { checkImageSizes } from '../runner/size-limit.js';
import { verifyPlan } from '../runner/verify.js';
import { stepsText } from '../steps-text.js';
import { bootInteractive } from '../uml/boot.js';
import { kernelOption } from '../uml/kernel-file.js';
import { mergeCow, verifyCows } from '../uml/cow-tools.js';
import { findBuiltImage } from '../uml/target.js';

export type { CleanupReport, DoctorReport };

/**
 * Load a recipe the way `build` does with the same options (variables,
 * variant, owner, hooks: the same plan; warnings through `onWarning`), verify
 * the host for it and check its image sizes against the output directory's
 * filesystem, as build() does before anything runs; no side effects.
 */
export async function validate(file: string, o: Omit<LoadOptions, 'env'> & { outDir?: string; onWarning?: (w: string) => void } = {}): Promise<Plan> {
  const { outDir, onWarning, ...load } = o;
  const plan = await loadRecipe(file, { ...load, env: process.env });
  for (const w of plan.warnings) onWarning?.(w);
  await verifyPlan(plan);
  await checkImageSizes(plan, outDir ?? '.');
  return plan;
}

export interface CacheListing {
  /** Where the bootstrap entries are. */
  bootstrapDir: string;
  bootstraps: Awaited<ReturnType<BootstrapCache['list']>>;
  bases: Awaited<ReturnType<ImageCache['list']>>;
  /** Kernels built from source (kernel step, umlbuild kernel). */
  kernels: Awaited<ReturnType<KernelCache['list']>>;
}

/** The cache's entries: bootstraps, then base images of warm builds. */
export async function cacheList(cacheDir?: string): Promise<CacheListing> {
  const dir = cacheDir ?? defaultCacheDir();
  const store = new BootstrapCache(dir);
  return { bootstrapDir: store.dir, bootstraps: await store.list(), bases: await new ImageCache(dir).list(), kernels: await new KernelCache(dir).list() };
}

/** Remove every cache entry; how many of each kind. */
export async function cachePrune(cacheDir: string | undefined, warn: (l: string) => void): Promise<{ dir: string; bootstraps: number; bases: number; kernels: number }> {
  const dir = cacheDir ?? defaultCacheDir();
  const bootstraps = await new BootstrapCache(dir).prune(warn);
  const bases = await new ImageCache(dir).prune(warn);
  const kernels = await new KernelCache(dir).prune(warn);
  return { dir, bootstraps, bases, kernels };
}

/** Release what killed builds left behind, from their journals (in `journals`). */
export async function cleanup(): Promise<CleanupReport & { journals: string }> {
  return { ...(await cleanupStale()), journals: journalDir() };
}

/** Check that COW files still match their base image; false when one does not. */
export function verifyCow(targets: string[], o: { fixMtime?: boolean; log: (l: string) => void }): Promise<boolean> {
  return verifyCows(targets, Boolean(o.fixMtime), o.log);
}

/** Merge a COW file with its base into a new image, or into the base with `inPlace`; the image written. */
export function merge(cow: string, newBase: string | undefined, o: { inPlace?: boolean; log: (l: string) => void }): Promise<string> {
  return mergeCow(cow, newBase, Boolean(o.inPlace), o.log);
}

/** Start a built image interactively, the way its launch script does; UML's exit code. */
export async function boot(target: string, extra: string[], o: { cow?: string; user?: string; allowRoot?: boolean; kernel?: string; log?: (l: string) => void }): Promise<number> {
  return bootInteractive(await findBuiltImage(target), extra, { ...o, kernel: o.kernel === undefined ? undefined : kernelOption(o.kernel) });
}

/** The host's tools and privileges, and the Debian packages to install. */
export function doctor(): Promise<DoctorReport> {
  return checkHost();
}

/** The step kinds (or one) and their options, as text. */
export function steps(kind?: string): string {
  return stepsText(kind);
}
