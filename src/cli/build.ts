/** `umlbuild build` (the default command): build a recipe's image, optionally publish artifacts and test it. */
import { basename } from 'node:path';
import { type Command, Option } from 'commander';
import { EXIT, type HookStage, UserError } from '../api/basics.js';
import type { Compression, RendererName } from '../api/build.js';
import { collectHook, collectSet, out, recipeArg, setOption, warn, withInterrupts } from './options.js';
import { addTestOptions, type TestFlags, testCommand } from './test.js';

type BuildFlags = {
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
} & TestFlags;

async function buildCommand(recipe: string, o: BuildFlags) {
  const ndjson = o.json || o.logFormat === 'ndjson';
  const { announceGenerated, dryRun, requireUmlKernel, rerunRootless, runsRootless, writeArtifacts } = await import('../api/build.js');
  const { build, loadRecipe } = await import('../index.js');
  const plan = await loadRecipe(await recipeArg(recipe), { set: o.set, env: process.env, variant: o.variant, owner: o.owner, hooks: o.hook });
  for (const w of plan.warnings) warn(w);
  // An ordinary user builds in a user namespace when every step allows it (host/userns).
  const rootless = await runsRootless(plan);
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
    if (o.test) await testCommand(plan.rootfs === 'hostfs' ? r.outputs.root : r.outputs.image, o, plan.test.password);
  } finally {
    // Last, so it is not scrolled away; unredacted, and on stdout only for a person at a terminal (host/generated-password).
    const terminal = Boolean(process.stdout.isTTY) && !ndjson;
    await announceGenerated({ generated: plan.generated, outDir: o.out, output: plan.output, terminal, write: ndjson ? (l) => void process.stderr.write(`umlbuild: ${l}\n`) : out });
  }
}

export function buildCli(p: Command): void {
  const c = p
    .command('build', { isDefault: true })
    .description('build the image a recipe describes (the default command)')
    .argument('<recipe>', 'recipe file (YAML), or the name of one that comes with umlbuild (umlbuild recipes)')
    .option('-o, --out <dir>', 'output directory', '.')
    .option(...setOption, collectSet, {})
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
  addTestOptions(c).action(buildCommand);
}
