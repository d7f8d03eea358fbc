/** Option parsers and output helpers shared by the commands. */
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { type Command, Option } from 'commander';
import { EXIT, HOOK_STAGES, type HookStage, InterruptedError, RecipeError, UserError } from '../api/basics.js';

export const out = (s: string) => process.stdout.write(s.endsWith('\n') ? s : `${s}\n`);
export const warn = (l: string) => void process.stderr.write(`umlbuild: warning: ${l}\n`);

export function collectSet(value: string, prev: Record<string, string> = {}): Record<string, string> {
  // At the first '=': names hold none, values may (passwords, URLs with ?a=b). The argument is not shown: it may hold a secret.
  const i = value.indexOf('=');
  if (i <= 0) throw new RecipeError([{ file: '--set', path: '', message: `use --set key=value (${i < 0 ? 'no "=" in the argument' : 'no name before "="'}; the argument is not shown)` }]);
  return { ...prev, [value.slice(0, i)]: value.slice(i + 1) };
}

export function collectExpect(value: string, prev: [string, RegExp][] = []): [string, RegExp][] {
  // At the last '=': commands often hold one (VAR=x, rc=$?), patterns seldom do.
  const i = value.lastIndexOf('=');
  if (i <= 0) throw new RecipeError([{ file: '--expect', path: value, message: 'use --expect "COMMAND=REGEX"' }]);
  try {
    return [...prev, [value.slice(0, i), new RegExp(value.slice(i + 1), 'm')]];
  } catch (e) {
    throw new RecipeError([{ file: '--expect', path: value, message: (e as Error).message }]);
  }
}

export function collectHook(value: string, acc: { stage: HookStage; script: string }[] = []): { stage: HookStage; script: string }[] {
  const m = /^([\w-]+)=(.+)$/.exec(value);
  if (!m || !(HOOK_STAGES as readonly string[]).includes(m[1]!)) throw new UserError(`--hook ${value}: use STAGE=SCRIPT with STAGE one of ${HOOK_STAGES.join(', ')}`, EXIT.invalid);
  const script = resolve(m[2]!);
  if (!existsSync(script) || !(statSync(script).mode & 0o111)) throw new UserError(`--hook ${value}: ${script} is not an executable file`, EXIT.invalid);
  return [...acc, { stage: m[1] as HookStage, script }];
}

/**
 * The recipe file a command-line argument means: a file that exists, else the
 * shipped recipe of that name (`umlbuild bookworm`), said on stderr.
 */
export async function recipeArg(arg: string): Promise<string> {
  const { findRecipe } = await import('../api/recipes.js');
  const r = findRecipe(arg);
  if (r.from === 'shipped') process.stderr.write(`umlbuild: ${arg}: the recipe that comes with umlbuild, ${r.file} (no file ${arg} here)\n`);
  else if (r.shadows) process.stderr.write(`umlbuild: ${arg}: the file here, not the recipe of that name that comes with umlbuild (${r.shadows})\n`);
  return r.file;
}

export const setOption = ['-s, --set <key=value>', 'set a recipe variable, split at the first = so a value may hold one (repeatable)'] as const;

/** The options that decide which plan a recipe makes (and what build checks before it runs): build and validate both take them, from here. */
export interface PlanFlags {
  out: string;
  set?: Record<string, string>;
  variant?: 'image' | 'hostfs';
  owner?: string;
  hook?: { stage: HookStage; script: string }[];
}

/** The long names of the plan options (test/unit/cli-options.test.ts: build and validate both have each). */
export const PLAN_OPTIONS = ['--out', '--set', '--variant', '--owner', '--hook'] as const;

export function addPlanOptions(c: Command): Command {
  return c
    .addOption(new Option('-o, --out <dir>', 'output directory: <output>.img (or .root), .sh and .manifest.json go here').default('.', 'the current directory'))
    .option(...setOption, collectSet)
    .addOption(new Option('--variant <kind>', 'image (default), or hostfs: a root directory UML boots with hostfs').choices(['image', 'hostfs']))
    .option('--owner <user[:group]>', 'hostfs: chown the root tree to the user who will run UML')
    .option('--hook <stage=script>', 'run a host script at after-bootstrap, before-pack or after-image (repeatable)', collectHook);
}

/** What the plan options give loadRecipe (and validate). */
export function planLoadOptions(o: PlanFlags) {
  return { set: o.set ?? {}, variant: o.variant, owner: o.owner, hooks: o.hook ?? [] };
}

export interface LogFlags {
  logFormat: 'text' | 'ndjson';
  json?: boolean;
}

export const LOG_OPTIONS = ['--log-format', '--json'] as const;

export function addLogOptions(c: Command): Command {
  return c
    .addOption(new Option('--log-format <format>', 'text (progress) or ndjson: one JSON event per line on stdout, for CI (docs/events.md)').choices(['text', 'ndjson']).default('text', 'text'))
    .option('--json', 'the same as --log-format ndjson');
}

/** Whether a command line asks for NDJSON events (cli.ts: for errors before a command's action ran). */
export function wantsNdjson(argv: string[]): boolean {
  return argv.some((a, i) => a === '--json' || a === '--log-format=ndjson' || (a === '--log-format' && argv[i + 1] === 'ndjson'));
}

/** SIGINT/SIGTERM turned into an abort of `signal` (so the work can unwind) instead of an exit, between start() and stop(). */
export function interrupts(): { signal: AbortSignal; start(): void; stop(): void } {
  const controller = new AbortController();
  const onInt = () => controller.abort(new InterruptedError('SIGINT'));
  const onTerm = () => controller.abort(new InterruptedError('SIGTERM'));
  return {
    signal: controller.signal,
    start() {
      process.on('SIGINT', onInt);
      process.on('SIGTERM', onTerm);
    },
    stop() {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
    },
  };
}

/** Run `fn` with SIGINT/SIGTERM turned into an abort (so it can unwind) instead of an exit. */
export async function withInterrupts<T>(fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const i = interrupts();
  i.start();
  try {
    return await fn(i.signal);
  } finally {
    i.stop();
  }
}
