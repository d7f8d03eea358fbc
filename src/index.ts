/**
 * The library API: what the CLI is a thin layer over.
 *
 * ```ts
 * import { loadRecipe, build, test } from 'umlbuild';
 *
 * const plan = await loadRecipe('recipes/bookworm.yml', { set: { hostname: 'ci' } });
 * const result = await build(plan, { outDir: 'out', renderer: 'silent', onEvent: (e) => console.log(e.type) });
 * const report = await test(result.outputs.image, { network: false });
 * if (!report.ok) process.exit(1);
 * ```
 */
import { loadRecipe as load, type LoadOptions, type Plan } from './recipe/load.js';
import { build as run, type BuildOptions, type BuildResult } from './runner/build.js';
import { verifyPlan } from './runner/verify.js';

export type { Plan, LoadOptions, BuildOptions, BuildResult };
export { test, type TestOptions, type BootTestResult } from './api/test.js';
export { upLab, testLab, downLab, statusLab, execLab, readLab, type Lab, type LabOptions, type LabState, type LabTestResult, type CheckResult } from './api/lab.js';
export type { BuildEvent, EventListener } from './runner/events.js';
export type { OnFailure } from './runner/on-failure.js';
export { eventsJsonSchema } from './api/events.js';
export { UserError, RecipeError, HostError, StepError, CommandError, InterruptedError, EXIT } from './errors.js';
export { recipeJsonSchema } from './schema.js';
export { cleanupStale, type CleanupReport } from './host/journal.js';
export { findRecipe, recipes, type RecipeRef, type RecipeVariable, type ShippedRecipe } from './api/recipes.js';
export { verifyPlan };

/** Read, resolve and validate a recipe (throws RecipeError with every problem located). */
export function loadRecipe(file: string, opts: LoadOptions = {}): Promise<Plan> {
  return load(file, { env: process.env, ...opts });
}

/** Verify the host for a plan, run it, and commit its outputs (see BuildOptions.onEvent for progress). */
export function build(plan: Plan, opts: BuildOptions): Promise<BuildResult> {
  return run(plan, opts);
}
