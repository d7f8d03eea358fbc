/**
 * `hook`: run a host script at this point of the build, the way Buildroot and
 * OpenWRT run post-build and post-image scripts. It gets their environment —
 * TARGET_DIR (the rootfs), BINARIES_DIR (the output directory), BUILD_DIR (a
 * scratch directory of this build) — and umlbuild's: UMLBUILD_RECIPE,
 * UMLBUILD_IMAGE (the image being written; at `after-image`, the finished
 * one), UMLBUILD_ROOTFS, UMLBUILD_STAGE, and every recipe variable as
 * UMLBUILD_VAR_<NAME>. Its output shows under the step; a non-zero exit
 * fails the build with the script's exit code and the tail of its output.
 * `umlbuild --hook STAGE=SCRIPT` adds hooks from the command line at
 * after-bootstrap, before-pack or after-image.
 *
 * ```yaml
 * - step: hook
 *   script: hooks/post-build.sh     # relative to the recipe
 *   args: [--flavour, uml]
 * ```
 */
import { existsSync, statSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { z } from 'zod';
import type { Step, StepContext } from './types.js';
import type { TreeJournal } from '../host/safe-write.js';
import { createHash } from 'node:crypto';

import { HOOK_STAGES, type HookStage } from '../model/hook-stages.js';

export { HOOK_STAGES, type HookStage };

const schema = z
  .object({
    script: z.string().min(1),
    args: z.array(z.union([z.string(), z.number()]).transform(String)).default([]),
    /** Set by --hook; informational in a recipe. */
    stage: z.enum(HOOK_STAGES).optional(),
  })
  .strict();
type Options = z.infer<typeof schema>;

export const hookScript = (o: { script: string }, recipeDir: string) => (isAbsolute(o.script) ? o.script : resolve(recipeDir, o.script));

/** The environment a hook sees (Buildroot's names, then umlbuild's). */
export function hookEnv(h: { rootfs?: string; image: string; outDir: string; buildDir: string; recipe: string; stage: string; vars: Readonly<Record<string, unknown>> }): Record<string, string> {
  const env: Record<string, string> = {
    TARGET_DIR: h.rootfs ?? '',
    BINARIES_DIR: h.outDir,
    BUILD_DIR: h.buildDir,
    UMLBUILD_RECIPE: h.recipe,
    UMLBUILD_IMAGE: h.image,
    UMLBUILD_ROOTFS: h.rootfs ?? '',
    UMLBUILD_STAGE: h.stage,
  };
  for (const [k, v] of Object.entries(h.vars)) env[`UMLBUILD_VAR_${k.toUpperCase()}`] = Array.isArray(v) ? v.join(',') : String(v ?? '');
  return env;
}

/** Run a hook script with its environment; a scratch BUILD_DIR is made and removed around it. */
export async function runHook(ctx: Pick<StepContext, 'exec' | 'log'> & { journal?: TreeJournal }, script: string, args: string[], env: Omit<Parameters<typeof hookEnv>[0], 'buildDir'>): Promise<void> {
  const buildDir = await mkdtemp(join(tmpdir(), 'umlbuild-hook-'));
  const journaled = ctx.journal?.add({ kind: 'tree', path: buildDir });
  try {
    await ctx.exec(script, args, { env: hookEnv({ ...env, buildDir }), cwd: dirname(script) });
  } finally {
    await rm(buildDir, { recursive: true, force: true });
    if (journaled !== undefined) ctx.journal!.forget(journaled);
  }
}

export const hook: Step<Options> = {
  kind: 'hook',
  summary: 'run a host script with the Buildroot-style environment (TARGET_DIR, BINARIES_DIR, ...)',
  schema,
  traits: {
    cacheInputs: async (o, ctx) => ({
      hook: createHash('sha256')
        .update(await readFile(hookScript(o, ctx.recipeDir)))
        .digest('hex'),
    }),
  },
  title: (o) => `Hook ${o.stage ? `${o.stage} ` : ''}${o.script}`,
  async verify(o, ctx) {
    const file = hookScript(o, ctx.recipeDir);
    if (!existsSync(file) || !statSync(file).isFile()) ctx.problem(`hook script ${file} does not exist`, 'script');
    else if (!(statSync(file).mode & 0o111)) ctx.problem(`hook script ${file} is not executable (chmod +x)`, 'script');
  },
  async run(o, ctx) {
    await runHook({ exec: ctx.exec, log: ctx.log, journal: ctx.teardown.journal }, hookScript(o, ctx.recipeDir), o.args, {
      rootfs: ctx.rootfs,
      image: ctx.image,
      outDir: dirname(ctx.image),
      recipe: ctx.recipeFile,
      stage: o.stage ?? 'step',
      vars: ctx.vars,
    });
  },
};
