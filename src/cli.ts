/** The command line: a thin layer over recipe loading, building and checks. */
import { Command, CommanderError, Option } from 'commander';
import { EXIT, HostError, InterruptedError, RecipeError, UserError } from './errors.js';
import { findTool } from './host/tools.js';
import { recipeJsonSchema } from './schema.js';
import { existsSync, statSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { writeArtifacts, type Compression } from './runner/artifacts.js';
import { HOOK_STAGES, type HookStage } from './steps/hook.js';
import { redact } from './host/secrets.js';
import { announceGenerated } from './host/generated-password.js';
import { loadRecipe } from './recipe/load.js';
import { build } from './runner/build.js';
import type { RendererName } from './runner/renderer.js';
import { verifyPlan } from './runner/verify.js';
import { ImageCache } from './cache/images.js';
import { cleanupStale } from './host/journal.js';
import { journalDir } from './host/state-dirs.js';
import { rerunInUserns, rootlessSupport } from './host/userns.js';
import { privilege } from './host/privilege.js';
import { planText } from './plan-text.js';
import { stepsText } from './steps-text.js';
import { doctor } from './doctor.js';
import { VERSION } from './version.js';
import { findBuiltImage } from './uml/target.js';
import { bootTest, checkSummary } from './uml/boot-test.js';
import { resolveLogin } from './uml/credentials.js';
import { bootInteractive } from './uml/boot.js';
import { mergeCow, verifyCows } from './uml/cow-tools.js';
import { BootstrapCache, defaultCacheDir } from './cache/store.js';

export function collectSet(value: string, prev: Record<string, string>): Record<string, string> {
  // At the first '=': names hold none, values may (passwords, URLs with ?a=b). The argument is not shown: it may hold a secret.
  const i = value.indexOf('=');
  if (i <= 0) throw new RecipeError([{ file: '--set', path: '', message: `use --set key=value (${i < 0 ? 'no "=" in the argument' : 'no name before "="'}; the argument is not shown)` }]);
  return { ...prev, [value.slice(0, i)]: value.slice(i + 1) };
}

let verbose = false;
const out = (s: string) => process.stdout.write(s.endsWith('\n') ? s : `${s}\n`);

interface TestFlags {
  login?: string;
  expect: [string, RegExp][];
  timeout: string;
  hostname?: string;
  network: boolean;
}

export function collectExpect(value: string, prev: [string, RegExp][]): [string, RegExp][] {
  // At the last '=': commands often hold one (VAR=x, rc=$?), patterns seldom do.
  const i = value.lastIndexOf('=');
  if (i <= 0) throw new RecipeError([{ file: '--expect', path: value, message: 'use --expect "COMMAND=REGEX"' }]);
  try {
    return [...prev, [value.slice(0, i), new RegExp(value.slice(i + 1), 'm')]];
  } catch (e) {
    throw new RecipeError([{ file: '--expect', path: value, message: (e as Error).message }]);
  }
}

async function testCommand(target: string, o: TestFlags, built?: { password?: string }): Promise<void> {
  const img = await findBuiltImage(target);
  const { user, password } = await resolveLogin(img, o.login, process.env, built);
  const timeoutS = Number(o.timeout);
  if (!(timeoutS > 0)) throw new RecipeError([{ file: '--timeout', path: o.timeout, message: 'must be a positive number of seconds' }]);
  out(img.hostfsRoot ? `booting ${img.hostfsRoot} with hostfs (the guest writes into the tree)` : `booting ${img.cow ?? img.image} (on a throw-away COW layer)`);
  const r = await withInterrupts((signal) => bootTest(img, { user, password, hostname: o.hostname, expect: o.expect, timeoutS, isolateNetwork: o.network, signal, log: (l) => out(`  ${redact(l)}`) }));
  const timing = r.loginPromptS !== undefined ? `login prompt after ${r.loginPromptS.toFixed(1)} s${r.shellS !== undefined ? `, shell after ${r.shellS.toFixed(1)} s` : ''}` : 'no login prompt';
  out(`${r.ok ? 'PASS' : 'FAIL'}: ${checkSummary(r.checks).text}; ${timing}`);
  if (!r.ok) process.exitCode = EXIT.buildFailed;
}

function collectHook(value: string, acc: { stage: HookStage; script: string }[]): { stage: HookStage; script: string }[] {
  const m = /^([\w-]+)=(.+)$/.exec(value);
  if (!m || !(HOOK_STAGES as readonly string[]).includes(m[1]!)) throw new UserError(`--hook ${value}: use STAGE=SCRIPT with STAGE one of ${HOOK_STAGES.join(', ')}`, EXIT.invalid);
  const script = resolve(m[2]!);
  if (!existsSync(script) || !(statSync(script).mode & 0o111)) throw new UserError(`--hook ${value}: ${script} is not an executable file`, EXIT.invalid);
  return [...acc, { stage: m[1] as HookStage, script }];
}

function addTestOptions(c: Command): Command {
  return c
    .option('--login <user[:password]>', 'log in as this user (default: the recipe test user and password)')
    .option('--expect <command=regex>', 'also run COMMAND and match its output against REGEX, split at the last = (repeatable)', collectExpect, [])
    .option('--timeout <seconds>', 'how long to wait for the login prompt', '120')
    .option('--hostname <name>', 'expect this hostname instead of the recipe one')
    .option('--no-network', 'do not create the interfaces the launch line binds to (in a private network namespace)');
}

async function buildCommand(
  recipe: string,
  o: {
    out: string;
    set: Record<string, string>;
    dryRun?: boolean;
    renderer: RendererName;
    keepGoingOnTeardown?: boolean;
    test?: boolean;
    replaceBase?: boolean;
    variant?: 'image' | 'hostfs';
    owner?: string;
    cache?: boolean;
    cacheDir?: string;
    refresh?: boolean;
    fast?: boolean;
    checksum?: boolean;
    hook: { stage: HookStage; script: string }[];
    logFormat: 'text' | 'ndjson';
    json?: boolean;
    artifacts?: string;
    compress: Compression;
  } & TestFlags,
) {
  const ndjson = o.json || o.logFormat === 'ndjson';
  const plan = await loadRecipe(recipe, { set: o.set, env: process.env, variant: o.variant, owner: o.owner, hooks: o.hook });
  for (const w of plan.warnings) process.stderr.write(`umlbuild: warning: ${w}\n`);
  // An ordinary user builds in a user namespace when every step allows it (host/userns).
  const rootless = privilege() === 'user' ? await verifyPlan(plan, rootlessSupport) : { userns: false };
  if (o.dryRun) {
    if (!rootless.userns) await verifyPlan(plan);
    out(await planText(plan, o.out));
    if (rootless.userns) out(`\nruns rootless: in a user namespace (${(await rootlessSupport()).detail})`);
    return;
  }
  // --test boots the result: the UML kernel must be here before anything is built.
  if (o.test && !(await findTool('linux'))) throw new HostError('--test boots the image with the UML kernel, and there is none (linux)', ['user-mode-linux']);
  if (rootless.userns) {
    process.exitCode = await rerunInUserns(await rootlessSupport());
    return;
  }
  const cacheDir = o.cache === false ? false : o.cacheDir;
  const r = await withInterrupts((signal) =>
    build(plan, {
      outDir: o.out,
      renderer: ndjson ? 'silent' : o.renderer,
      onEvent: ndjson ? (e) => out(JSON.stringify(e)) : undefined,
      signal,
      keepGoingOnTeardown: o.keepGoingOnTeardown,
      replaceBase: o.replaceBase,
      cacheDir,
      refreshCache: o.refresh,
      fast: o.fast,
      checksum: o.checksum,
    }),
  );
  if (o.artifacts) {
    if (plan.rootfs === 'hostfs') throw new UserError('--artifacts publishes an image; a hostfs build makes a directory', EXIT.invalid);
    const files = await writeArtifacts(r.outputs, o.artifacts, o.compress);
    if (ndjson) out(JSON.stringify({ type: 'artifacts', files, time: new Date().toISOString() }));
    else out(`artifacts in ${o.artifacts}: ${files.map((f) => basename(f)).join(', ')}`);
  }
  if (!ndjson) {
    out(`built ${plan.rootfs === 'hostfs' ? r.outputs.root : r.outputs.image} in ${r.seconds.toFixed(1)} s\n  launch: ${r.outputs.script}\n  manifest: ${r.outputs.manifest}`);
    for (const v of r.variants) out(`  variant ${v.name}: ${v.cow} (${(v.allocated / 2 ** 20).toFixed(1)} MiB allocated, ${v.seconds.toFixed(1)} s), launch: ${v.script}`);
  }
  try {
    // The password the build resolved (--set included, or generated), in memory: never argv, environment or manifest.
    if (o.test) await testCommand(plan.rootfs === 'hostfs' ? r.outputs.root : r.outputs.image, o, { password: plan.test.password });
  } finally {
    // Last, so it is not scrolled away; unredacted, and on stdout only for a person at a terminal (host/generated-password).
    const terminal = Boolean(process.stdout.isTTY) && !ndjson;
    await announceGenerated({ generated: plan.generated, outDir: o.out, output: plan.output, terminal, write: ndjson ? (l) => void process.stderr.write(`umlbuild: ${l}\n`) : out });
  }
}

/** Run `fn` with SIGINT/SIGTERM turned into an abort (so it can unwind) instead of an exit. */
async function withInterrupts<T>(fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const onSignal = (sig: 'SIGINT' | 'SIGTERM') => () => controller.abort(new InterruptedError(sig));
  const onInt = onSignal('SIGINT');
  const onTerm = onSignal('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  try {
    return await fn(controller.signal);
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
    .option('-s, --set <key=value>', 'set a recipe variable, split at the first = (repeatable)', collectSet, {})
    .option('-n, --dry-run', 'validate and print the resolved plan; change nothing')
    .addOption(new Option('--renderer <name>', 'progress output').choices(['auto', 'simple', 'verbose', 'silent']).default('auto'))
    .option('--keep-going-on-teardown', 'succeed even if releasing a resource failed (it is still reported)')
    .option('--test', 'boot the image and run `umlbuild test` on it after building')
    .option('--replace-base', 'replace an image even though COW files depend on it (they break)')
    .addOption(new Option('--variant <kind>', 'image, or hostfs: a root directory UML boots with hostfs').choices(['image', 'hostfs']))
    .option('--owner <user[:group]>', 'hostfs: chown the root tree to the user who will run UML')
    .option('--cache-dir <dir>', 'bootstrap cache (default: $XDG_CACHE_HOME/umlbuild)')
    .option('--no-cache', 'bootstrap from the mirror every time; neither read nor fill the cache')
    .option('--refresh', 'bootstrap again and replace the cache entries')
    .addOption(new Option('--log-format <format>', 'text (progress) or ndjson: one JSON event per line on stdout, for CI').choices(['text', 'ndjson']).default('text'))
    .option('--json', 'the same as --log-format ndjson')
    .option('--artifacts <dir>', 'also write the image (compressed), launch script, manifest and SHA256SUMS here, for CI to publish')
    .addOption(new Option('--compress <kind>', 'the artifact image: zst, xz, tar (sparse-aware) or none').choices(['zst', 'xz', 'tar', 'none']).default('zst'))
    .option('--hook <stage=script>', 'run a host script at after-bootstrap, before-pack or after-image (repeatable)', collectHook, [])
    .option('--no-fast', 'run every step on the tree even when a cached base image plus debugfs edits would do')
    .option('--no-checksum', "leave the image's sha256 out of the manifest (hashing reads the whole sparse image: ~1 s per GiB)");
  addTestOptions(p.commands.find((c) => c.name() === 'build')!).action(buildCommand);

  addTestOptions(p.command('test').description('boot a built image on a throw-away COW layer, log in and run checks').argument('<image|outdir>')).action(testCommand);

  p.command('boot')
    .description('start a built image interactively, the way its launch script does')
    .argument('<image|outdir>')
    .argument('[kernel-args...]', 'extra kernel arguments (after --)')
    .option('--cow <file>', 'boot on this COW file over the image (created if missing)')
    .option('--user <user>', 'run UML as this user when started as root')
    .option('--allow-root', 'run UML as root')
    .action(async (target: string, extra: string[], o: { cow?: string; user?: string; allowRoot?: boolean }) => {
      process.exitCode = await bootInteractive(await findBuiltImage(target), extra, o);
    });

  p.command('validate')
    .description('check a recipe and the host without side effects')
    .argument('<recipe>')
    .option('-s, --set <key=value>', 'set a recipe variable, split at the first = (repeatable)', collectSet, {})
    .action(async (recipe: string, o: { set: Record<string, string> }) => {
      const plan = await loadRecipe(recipe, { set: o.set, env: process.env });
      for (const w of plan.warnings) process.stderr.write(`umlbuild: warning: ${w}\n`);
      await verifyPlan(plan);
      out(`${recipe}: ok (${plan.steps.length} steps)`);
    });

  const cache = p.command('cache').description('the bootstrap cache');
  const cacheOption = '--cache-dir <dir>';
  const cacheHelp = 'bootstrap cache (default: $XDG_CACHE_HOME/umlbuild)';
  const store = (o: { cacheDir?: string }) => new BootstrapCache(o.cacheDir ?? defaultCacheDir());
  const images = (o: { cacheDir?: string }) => new ImageCache(o.cacheDir ?? defaultCacheDir());
  cache
    .command('ls')
    .description('list cache entries: bootstraps, then base images of warm builds')
    .option(cacheOption, cacheHelp)
    .action(async (o: { cacheDir?: string }) => {
      const entries = await store(o).list();
      const bases = await images(o).list();
      const lines = [
        ...entries.map((e) => `${e.key}  ${(e.bytes / 2 ** 20).toFixed(0).padStart(5)} MiB  ${e.created}  ${e.fields.suite}/${e.fields.variant ?? 'default'} ${e.fields.arch} ${e.fields.mirror}`),
        ...bases.map((e) => `${e.key}  ${(e.bytes / 2 ** 20).toFixed(0).padStart(5)} MiB  ${e.created}  base image (${(e.fields.steps as [string][]).map(([k]) => k).join(', ')})`),
      ];
      out(lines.length ? lines.join('\n') : `no entries in ${store(o).dir}`);
    });
  cache
    .command('prune')
    .description('remove every cache entry')
    .option(cacheOption, cacheHelp)
    .action(async (o: { cacheDir?: string }) => {
      const warn = (l: string) => void process.stderr.write(`umlbuild: warning: ${l}\n`);
      const n = await store(o).prune(warn);
      const m = await images(o).prune(warn);
      out(`removed ${n} bootstrap entries and ${m} base images from ${o.cacheDir ?? defaultCacheDir()}`);
    });

  p.command('schema')
    .description('print the JSON Schema of the recipe format (recipes/recipe.schema.json)')
    .action(() => void out(JSON.stringify(recipeJsonSchema(), null, 2)));

  p.command('cleanup')
    .description('release what killed builds left behind (mounts, loop devices, temporary files), from their journals')
    .action(async () => {
      const r = await cleanupStale();
      for (const a of r.actions) out(a);
      for (const e of r.errors) process.stderr.write(`umlbuild: ${e}\n`);
      out(r.builds ? `cleaned up after ${r.builds} build(s) (journals in ${journalDir()})` : `nothing to clean up (journals in ${journalDir()})`);
      if (r.errors.length) process.exitCode = EXIT.buildFailed;
    });

  p.command('verify-cow')
    .description('check that COW files still match their base image; optionally restore the base mtime')
    .argument('<dir|cow...>')
    .option('--fix-mtime', "restore the base image's mtime when its content still matches its manifest")
    .action(async (targets: string[], o: { fixMtime?: boolean }) => {
      if (!(await verifyCows(targets, Boolean(o.fixMtime), (l) => out(l)))) process.exitCode = EXIT.buildFailed;
    });

  p.command('merge')
    .description('merge a COW file with its base into a new image (uml_moo), or into the base with --in-place; the base must be an image umlbuild built (its manifest and sha256 beside it)')
    .argument('<cow>')
    .argument('[new-base]', 'the merged image to write (default: COW name with .img)')
    .option('--in-place', 'merge into the base itself (only a COW child its manifest records, and refused while the base has other COW children)')
    .action(async (cow: string, newBase: string | undefined, o: { inPlace?: boolean }) => {
      await mergeCow(cow, newBase, Boolean(o.inPlace), (l) => out(l));
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
