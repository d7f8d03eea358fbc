/** The command line: a thin layer over recipe loading, building and checks. */
import { Command, CommanderError, Option } from 'commander';
import { EXIT, InterruptedError, RecipeError, UserError } from './errors.js';
import { redact } from './host/secrets.js';
import { loadRecipe } from './recipe/load.js';
import { build } from './runner/build.js';
import type { RendererName } from './runner/renderer.js';
import { verifyPlan } from './runner/verify.js';
import { planText } from './plan-text.js';
import { stepsText } from './steps-text.js';
import { doctor } from './doctor.js';
import { VERSION } from './version.js';

function collectSet(value: string, prev: Record<string, string>): Record<string, string> {
  const i = value.indexOf('=');
  if (i <= 0) throw new RecipeError([{ file: '--set', path: value, message: 'use --set key=value' }]);
  return { ...prev, [value.slice(0, i)]: value.slice(i + 1) };
}

let verbose = false;
const out = (s: string) => process.stdout.write(s.endsWith('\n') ? s : `${s}\n`);

async function buildCommand(recipe: string, o: { out: string; set: Record<string, string>; dryRun?: boolean; renderer: RendererName; keepGoingOnTeardown?: boolean }) {
  const plan = await loadRecipe(recipe, { set: o.set, env: process.env });
  for (const w of plan.warnings) process.stderr.write(`umlbuild: warning: ${w}\n`);
  if (o.dryRun) {
    await verifyPlan(plan);
    out(planText(plan, o.out));
    return;
  }
  const controller = new AbortController();
  const onSignal = (sig: 'SIGINT' | 'SIGTERM') => () => controller.abort(new InterruptedError(sig));
  const onInt = onSignal('SIGINT');
  const onTerm = onSignal('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  try {
    const r = await build(plan, { outDir: o.out, renderer: o.renderer, signal: controller.signal, keepGoingOnTeardown: o.keepGoingOnTeardown });
    out(`built ${r.outputs.image} in ${r.seconds.toFixed(1)} s\n  launch: ${r.outputs.script}\n  manifest: ${r.outputs.manifest}`);
  } finally {
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
  }
}

export function program(): Command {
  const p = new Command('umlbuild')
    .description('Build ready-to-boot User Mode Linux root filesystems from step-based YAML recipes')
    .version(VERSION)
    .option('-v, --verbose', 'show stack traces for errors')
    .hook('preAction', (cmd) => {
      verbose = Boolean(cmd.opts().verbose);
    })
    .exitOverride()
    .configureOutput({ writeErr: (s) => void process.stderr.write(s) });

  p.command('build', { isDefault: true })
    .description('build the image a recipe describes (the default command)')
    .argument('<recipe>', 'recipe file (YAML)')
    .option('-o, --out <dir>', 'output directory', '.')
    .option('-s, --set <key=value>', 'set a recipe variable (repeatable)', collectSet, {})
    .option('-n, --dry-run', 'validate and print the resolved plan; change nothing')
    .addOption(new Option('--renderer <name>', 'progress output').choices(['auto', 'simple', 'verbose', 'silent']).default('auto'))
    .option('--keep-going-on-teardown', 'succeed even if releasing a resource failed (it is still reported)')
    .action(buildCommand);

  p.command('validate')
    .description('check a recipe and the host without side effects')
    .argument('<recipe>')
    .option('-s, --set <key=value>', 'set a recipe variable (repeatable)', collectSet, {})
    .action(async (recipe: string, o: { set: Record<string, string> }) => {
      const plan = await loadRecipe(recipe, { set: o.set, env: process.env });
      for (const w of plan.warnings) process.stderr.write(`umlbuild: warning: ${w}\n`);
      await verifyPlan(plan);
      out(`${recipe}: ok (${plan.steps.length} steps)`);
    });

  p.command('steps')
    .description('list the step kinds and their options')
    .action(() => void out(stepsText()));

  p.command('doctor')
    .description('check host tools and privileges; print the Debian packages to install')
    .action(async () => {
      const r = await doctor();
      out(r.lines.join('\n'));
      if (!r.ok) process.exitCode = EXIT.hostMissing;
    });
  return p;
}

export async function main(argv: string[] = process.argv): Promise<number> {
  try {
    await program().parseAsync(argv);
    return Number(process.exitCode ?? 0);
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : EXIT.invalid;
    if (e instanceof UserError) {
      process.stderr.write(`umlbuild: ${redact(e.message)}\n`);
      if (verbose && e.stack) process.stderr.write(`${redact(e.stack)}\n`);
      return e.exitCode;
    }
    process.stderr.write(`umlbuild: internal error: ${redact(e instanceof Error ? (e.stack ?? e.message) : String(e))}\n`);
    return EXIT.buildFailed;
  }
}
