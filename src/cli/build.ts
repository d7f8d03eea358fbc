/** `umlbuild build` (the default command): build a recipe's image, optionally publish artifacts and test it. */
import { basename } from 'node:path';
import { type Command, Option } from 'commander';
import type { Compression, RendererName } from '../api/build.js';
import { EXIT, ON_FAILURE, type OnFailure, UserError } from '../api/basics.js';
import type { EventLog } from '../api/events.js';
import { addLogOptions, addPlanOptions, type LogFlags, out, type PlanFlags, planLoadOptions, recipeArg, warn, withInterrupts } from './options.js';
import { ENV, withDetails } from './help.js';
import { testCommand } from './test.js';

type BuildFlags = PlanFlags &
  LogFlags & {
    dryRun?: boolean;
    renderer: RendererName;
    keepGoingOnTeardown?: boolean;
    test?: boolean;
    replaceBase?: boolean;
    cache?: boolean;
    cacheDir?: string;
    refresh?: boolean;
    fast?: boolean;
    checksum?: 'bmap' | 'sha256' | false;
    artifacts?: string;
    compress: Compression;
    onFailure: OnFailure;
    network: boolean;
  };

async function buildCommand(recipe: string, o: BuildFlags) {
  // Before anything is loaded or built: `shell` needs a terminal.
  const { checkOnFailure } = await import('../api/build.js');
  if (!o.dryRun) checkOnFailure(o.onFailure);
  // NDJSON: every outcome an event, and one final event whatever ends the command (a dry run prints its plan as text).
  const events = (o.json || o.logFormat === 'ndjson') && !o.dryRun ? (await import('../api/events.js')).eventLog(out) : undefined;
  try {
    await buildEvents(recipe, o, events);
  } catch (e) {
    events?.failed(e);
    throw e;
  }
}

async function buildEvents(recipe: string, o: BuildFlags, events: EventLog | undefined) {
  const ndjson = Boolean(events);
  const { announceGenerated, dryRun, requireUmlKernel, rerunRootless, runsRootless, writeArtifacts } = await import('../api/build.js');
  const { build, loadRecipe } = await import('../index.js');
  const plan = await loadRecipe(await recipeArg(recipe), { ...planLoadOptions(o), env: process.env });
  for (const w of plan.warnings) warn(w);
  // An ordinary user builds in a user namespace when every step allows it (host/userns).
  const rootless = await runsRootless(plan);
  // A rootless build runs again in a user namespace, whose events are the stream.
  if (!(rootless && !o.dryRun)) for (const w of plan.warnings) events?.emit({ type: 'warning', message: w });
  if (o.dryRun) {
    const d = await dryRun(plan, o.out, rootless);
    out(d.text);
    if (d.rootless) out(`\n${d.rootless}`);
    return;
  }
  if (o.test) await requireUmlKernel();
  if (rootless) {
    process.exitCode = await rerunRootless();
    return;
  }
  const cacheDir = o.cache === false ? false : o.cacheDir;
  const r = await withInterrupts((signal) =>
    build(plan, {
      outDir: o.out,
      renderer: ndjson ? 'silent' : o.renderer,
      onEvent: events?.onEvent,
      signal,
      keepGoingOnTeardown: o.keepGoingOnTeardown,
      replaceBase: o.replaceBase,
      cacheDir,
      refreshCache: o.refresh,
      fast: o.fast,
      checksum: o.checksum,
      onFailure: o.onFailure,
    }),
  );
  if (o.artifacts) {
    if (plan.rootfs === 'hostfs') throw new UserError('--artifacts publishes an image; a hostfs build makes a directory', EXIT.invalid);
    const files = await writeArtifacts(r.outputs, o.artifacts, o.compress);
    if (events) events.emit({ type: 'artifacts', files });
    else out(`artifacts in ${o.artifacts}: ${files.map((f) => basename(f)).join(', ')}`);
  }
  if (!ndjson) {
    out(`built ${plan.rootfs === 'hostfs' ? r.outputs.root : r.outputs.image} in ${r.seconds.toFixed(1)} s\n  launch: ${r.outputs.script}\n  manifest: ${r.outputs.manifest}`);
    for (const v of r.variants) out(`  variant ${v.name}: ${v.cow} (${(v.allocated / 2 ** 20).toFixed(1)} MiB allocated, ${v.seconds.toFixed(1)} s), launch: ${v.script}${v.booted ? `; applied by a UML boot: ${v.booted}` : ''}`);
  }
  try {
    // The password the build resolved (--set included, or generated), in memory: never argv, environment or manifest.
    // With events, its lines are output events: stdout holds nothing else.
    const print = events ? (line: string) => events.emit({ type: 'output', index: 0, line: line.trimStart() }) : undefined;
    if (o.test) await testCommand(plan.rootfs === 'hostfs' ? r.outputs.root : r.outputs.image, { expect: [], timeout: String(plan.test.login_timeout), network: o.network }, plan.test.password, print);
  } finally {
    // Last, so it is not scrolled away; unredacted, and on stdout only for a person at a terminal (host/generated-password).
    const terminal = Boolean(process.stdout.isTTY) && !ndjson;
    await announceGenerated({ generated: plan.generated, outDir: o.out, output: plan.output, terminal, write: ndjson ? (l) => void process.stderr.write(`umlbuild: ${l}\n`) : out });
  }
  if (process.exitCode) events?.failed(new UserError('the boot test (--test) failed', Number(process.exitCode)));
  else events?.finished();
}

export function buildCli(p: Command): void {
  const c = p
    .command('build', { isDefault: true })
    .summary('build the image a recipe describes (the default command)')
    .description('build the image a recipe describes (the default command: `umlbuild RECIPE` is `umlbuild build RECIPE`)')
    .argument('<recipe>', 'the recipe: a YAML file (umlbuild steps and umlbuild-recipe(5) describe the format)');
  addPlanOptions(c)
    .option('-n, --dry-run', 'validate and print the resolved plan (secrets as ***); change nothing')
    .addOption(new Option('--renderer <name>', 'progress output: auto is interactive on a terminal and plain lines otherwise').choices(['auto', 'simple', 'verbose', 'silent']).default('auto', 'auto'))
    .option('--keep-going-on-teardown', 'succeed even if releasing a resource failed (it is still reported)')
    .option('--test', "then boot the new image and run the checks of `umlbuild test` with the recipe's test: section (user, password, hostname, expect, login_timeout)")
    .option('--no-network', 'with --test: do not create the interfaces the launch line binds to')
    .option('--replace-base', 'replace an image even though COW files depend on it (they break)')
    .option('--cache-dir <dir>', 'bootstrap cache and base images (default: $XDG_CACHE_HOME/umlbuild, else ~/.cache/umlbuild)')
    .option('--no-cache', 'bootstrap from the mirror every time; neither read nor fill the cache')
    .option('--refresh', 'bootstrap again and replace the cache entries')
    .option('--artifacts <dir>', 'also write the image (compressed), launch script, manifest, block map and SHA256SUMS here, for CI to publish')
    .addOption(new Option('--compress <kind>', 'the artifact image: zst, xz, tar (sparse-aware) or none').choices(['zst', 'xz', 'tar', 'none']).default('zst', 'zst'))
    .addOption(
      new Option('--on-failure <what>', 'when a step fails: cleanup (tear down), keep (leave the tree/image/mounts for `umlbuild cleanup`), or shell (on a terminal: a shell in the half-built root, then tear down)')
        .choices(ON_FAILURE)
        .default('cleanup', 'cleanup'),
    )
    .option('--no-fast', 'run every step on the tree even when a cached base image plus debugfs edits would do')
    .addOption(
      new Option(
        '--checksum <kind>',
        'the integrity record in the manifest: bmap (a block map beside the image, IMAGE.bmap, a sha256 per range of data; a warm build rehashes only what its edits wrote; check with `bmaptool copy --bmap IMAGE.bmap IMAGE /dev/null`) or sha256 (of the whole image: reads all of it, ~1 s per GiB)',
      )
        .choices(['bmap', 'sha256'])
        .default('bmap', 'bmap'),
    )
    .option('--no-checksum', 'no integrity record (merge and verify-cow then refuse the image as a base)');
  addLogOptions(c).action(buildCommand);
  withDetails(c, {
    examples: [
      ['umlbuild recipes/bookworm.yml --out out --set root_password=change-me', 'build Debian 12 into out/bookworm.img, out/bookworm.sh and out/bookworm.manifest.json'],
      ['umlbuild recipes/busybox.yml --out out --test', 'build, then boot the image and log in'],
    ],
    env: [ENV.vars, ENV.epoch, ENV.testPassword, ENV.cache, ENV.journal, ENV.tmpdir, ENV.proxy],
  });
}
