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
import { findBuiltImage } from './uml/target.js';
import { NO_TERMINAL, resolveLogin } from './uml/credentials.js';
import { bootTest, type BootTestResult } from './uml/boot-test.js';

export type { Plan, LoadOptions, BuildOptions, BuildResult, BootTestResult };
export type { BuildEvent, EventListener } from './runner/events.js';
export { UserError, RecipeError, HostError, StepError, CommandError, InterruptedError, EXIT } from './errors.js';
export { recipeJsonSchema } from './schema.js';
export { cleanupStale, type CleanupReport } from './host/journal.js';
export { verifyPlan };

/** Read, resolve and validate a recipe (throws RecipeError with every problem located). */
export function loadRecipe(file: string, opts: LoadOptions = {}): Promise<Plan> {
  return load(file, { env: process.env, ...opts });
}

/** Verify the host for a plan, run it, and commit its outputs (see BuildOptions.onEvent for progress). */
export function build(plan: Plan, opts: BuildOptions): Promise<BuildResult> {
  return run(plan, opts);
}

export interface TestOptions {
  /** USER or USER:PASSWORD (default: the recipe's test user and password). */
  login?: string;
  hostname?: string;
  /** Commands and what their output must match. */
  expect?: [string, RegExp][];
  timeoutS?: number;
  /** Create the interfaces the launch line binds to, in a private network namespace (root); default true. */
  network?: boolean;
  log?: (line: string) => void;
  signal?: AbortSignal;
}

/** Boot a built image (or output directory, or COW file) on a throw-away COW layer, log in and run the checks. */
export async function test(target: string, o: TestOptions = {}): Promise<BootTestResult> {
  const img = await findBuiltImage(target);
  // A library call never reads the terminal: a missing password is an error that says how to give it.
  const { user, password } = await resolveLogin(img, o.login, process.env, undefined, NO_TERMINAL);
  return bootTest(img, { user, password, hostname: o.hostname, expect: o.expect ?? [], timeoutS: o.timeoutS ?? 120, isolateNetwork: o.network ?? true, log: o.log, signal: o.signal });
}
