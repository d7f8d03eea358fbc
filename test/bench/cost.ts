/**
 * Benchmark: how cost grows (issue 15, item 4). Two tables of build time and
 * allocated bytes, printed, never asserted:
 *
 * - image sizes 1, 4, 16 and 64 GiB of recipes/busybox.yml (directory-first,
 *   the fastest shipped recipe, no network) with only `--set size=...`
 *   changing: the first build at a size (the base image is keyed by the size:
 *   tree, mkfs.ext4 -d, cache), then warm builds where the hostname and the
 *   password change (a copy of the cached base plus debugfs edits), with and
 *   without and with the integrity record (the block map). The image is sparse: neither time nor
 *   allocated bytes (st_blocks × 512, `du -B1`) should grow with the apparent size.
 * - 1, 10 and 50 COW variants of recipes/bookworm.yml over a warm
 *   cache (a recipe with N variants written to a temporary directory; its
 *   variant_steps are templates, so each variant is written directly, with no
 *   UML boot): the whole build, the variants' own seconds (the first also
 *   copies the base), seconds per variant, against one warm build without
 *   variants, and the bytes of all .cow files.
 *
 * `npm run bench` prints them after its first table, with its warm cache;
 * alone (fills its own cache first, untimed):
 *
 *   sudo npm run bench:cost [-- runs [--cache-dir DIR] [--sizes 1,4|none] [--variants 1,10|none]]
 */
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { exec } from '../../src/host/exec.js';
import { findTool } from '../../src/host/tools.js';
import { PROJECT, tempDir } from '../helpers.js';
import { allocation, filesEnding, MiB, stats, timed, umlbuild } from './common.js';

const busybox = join(PROJECT, 'recipes/busybox.yml');
const dirfirst = join(PROJECT, 'recipes/bookworm.yml');

export interface CostOptions {
  /** Where the images go (removed by the caller). */
  dir: string;
  /** Warm builds per size. */
  runs: number;
  /** The umlbuild cache: warm for bookworm with `dirfirstSets` (the caller filled it). */
  cache: string;
  /** `--set` arguments the cache was filled with (such as backend=mmdebstrap). */
  dirfirstSets?: string[];
  sizes?: number[];
  variants?: number[];
}

/** Build and measure; returns the lines of both tables. */
export async function costTables(o: CostOptions): Promise<string[]> {
  const sets = (o.dirfirstSets ?? []).flatMap((s) => ['--set', s]);
  const sizeRows: string[] = [];
  for (const gib of o.sizes ?? [1, 4, 16, 64]) {
    const size = `size=${gib}G`;
    const build = async (tag: string, extra: string[]) => {
      const out = join(o.dir, `cost-size-${gib}-${tag}`);
      const { seconds } = await timed(() => umlbuild([busybox, '--out', out, '--cache-dir', o.cache, '--renderer', 'silent', '--set', size, '--set', `hostname=${tag}`, '--set', `root_password=pw-${tag}`, ...extra]));
      const [img] = await filesEnding(out, '.img');
      const a = await allocation(img!);
      await rm(out, { recursive: true, force: true });
      console.log(`  ${gib} GiB ${tag}: ${seconds.toFixed(2)} s, ${MiB(a.allocated)} allocated`);
      return { seconds, ...a };
    };
    const first = await build('first', ['--no-checksum']);
    const warm: Awaited<ReturnType<typeof build>>[] = [];
    const sum: Awaited<ReturnType<typeof build>>[] = [];
    for (let i = 0; i < o.runs; i++) {
      warm.push(await build(`warm${i}`, ['--no-checksum']));
      sum.push(await build(`sum${i}`, []));
    }
    const med = (xs: { seconds: number }[]) => stats(xs.map((x) => x.seconds)).median.toFixed(2);
    sizeRows.push(
      `  ${`${gib} GiB`.padStart(6)} ${String(first.apparent).padStart(12)} ${first.seconds.toFixed(2).padStart(8)} ${MiB(first.allocated).padStart(10)}  ${med(warm).padStart(8)} ${MiB(stats(warm.map((x) => x.allocated)).median).padStart(10)}  ${med(sum).padStart(8)}`,
    );
  }

  // One warm build without variants (hostname changed), for the target: N variants <= 0.5 x this + N x 0.3 s.
  const warmSeconds: number[] = [];
  for (let i = 0; i < o.runs; i++) {
    const out = join(o.dir, `cost-warm-${i}`);
    const { seconds } = await timed(() => umlbuild([dirfirst, '--out', out, '--cache-dir', o.cache, '--renderer', 'silent', '--set', `hostname=warm${i}`, ...sets]));
    await rm(out, { recursive: true, force: true });
    warmSeconds.push(seconds);
  }
  const warm = stats(warmSeconds).median;
  const variantRows: string[] = [];
  for (const n of o.variants ?? [1, 10, 50]) {
    const recipe = join(o.dir, `cost-variants-${n}.yml`);
    const names = Array.from({ length: n }, (_, i) => `v${i + 1}`);
    await writeFile(recipe, [`name: cost-variants-${n}`, `extends: ${dirfirst}`, 'variants:', ...names.map((v) => `  - name: ${v}\n    variables: { hostname: ${v} }`), ''].join('\n'));
    const runs: { build: number; variants: number; first: number; each: number[]; bytes: number; cows: number; base: number }[] = [];
    for (let r = 0; r < o.runs; r++) {
      const out = join(o.dir, `cost-variants-${n}`);
      const { seconds } = await timed(() => umlbuild([recipe, '--out', out, '--cache-dir', o.cache, '--renderer', 'silent', ...sets]));
      // Each variant's own seconds, unrounded, from the base's manifest (the first one also copies the base).
      const [manifest] = await filesEnding(out, '.manifest.json').then((fs) => fs.filter((f) => f.endsWith(`cost-variants-${n}.manifest.json`) || f.endsWith('bookworm.manifest.json')));
      const each = (JSON.parse(await readFile(manifest!, 'utf8')).variants as { seconds: number }[]).map((v) => v.seconds);
      const cows = await Promise.all((await filesEnding(out, '.cow')).map(allocation));
      const [img] = await filesEnding(out, '.img');
      const base = await allocation(img!);
      await rm(out, { recursive: true, force: true });
      runs.push({ build: seconds, variants: each.reduce((a, b) => a + b, 0), first: each[0] ?? 0, each, bytes: cows.reduce((a, c) => a + c.allocated, 0), cows: cows.length, base: base.allocated });
      console.log(`  ${n} variants: ${seconds.toFixed(1)} s, variants ${runs.at(-1)!.variants.toFixed(2)} s, ${cows.length} .cow files, ${MiB(runs.at(-1)!.bytes)}`);
    }
    const med = (f: (x: (typeof runs)[number]) => number) => stats(runs.map(f)).median;
    const each = stats(runs.flatMap((x) => x.each.slice(1))).median;
    const target = 0.5 * warm + n * 0.3;
    variantRows.push(
      `  ${String(n).padStart(8)} ${med((x) => x.build)
        .toFixed(2)
        .padStart(8)} ${med((x) => x.variants)
        .toFixed(2)
        .padStart(10)} ${med((x) => x.first)
        .toFixed(2)
        .padStart(
          8,
        )} ${(n > 1 ? each.toFixed(3) : '-').padStart(8)} ${target.toFixed(2).padStart(9)} ${String(med((x) => x.bytes)).padStart(12)} ${MiB(med((x) => x.bytes) / Math.max(runs[0]!.cows, 1)).padStart(12)} ${MiB(med((x) => x.base)).padStart(11)}`,
    );
  }

  return [
    `image sizes (recipes/busybox.yml, --set size=...; warm: hostname and password changed; ${o.runs} warm runs each, medians; one first build):`,
    '',
    `  ${'size'.padStart(6)} ${'apparent B'.padStart(12)} ${'first s'.padStart(8)} ${'allocated'.padStart(10)}  ${'warm s'.padStart(8)} ${'allocated'.padStart(10)}  ${'default s'.padStart(9)}`,
    ...sizeRows,
    '',
    '  first: the base image at that size (tree, mkfs.ext4 -d, into the cache), --no-checksum; warm: --no-checksum;',
    '  default s: warm with default flags (the block map as the integrity record, only the ranges the edits wrote hashed again).',
    '',
    `COW variants (recipes/bookworm.yml extended with N variants, warm cache, ${o.runs} runs each, medians; written directly, no UML boot):`,
    '',
    `  ${'variants'.padStart(8)} ${'build s'.padStart(8)} ${'variants s'.padStart(10)} ${'first s'.padStart(8)} ${'each s'.padStart(8)} ${'target s'.padStart(9)} ${'.cow bytes'.padStart(12)} ${'per .cow'.padStart(12)} ${'base image'.padStart(11)}`,
    ...variantRows,
    '',
    `  build s: the whole build (warm base + variants); variants s: the sum of the variants' own seconds (the base's manifest);`,
    '  first s: the first variant, which also copies the base once; each s: the median of the others, seconds per variant;',
    `  target s: 0.5 x one warm build without variants (${warm.toFixed(2)} s, default flags, hostname changed) + N x 0.3 s, to compare with variants s;`,
    '  .cow bytes: allocated bytes of all .cow files; base image: allocated bytes of the base.',
  ];
}

/** Fill a umlbuild cache for bookworm (untimed): the base image and the bootstrap tree. */
export async function fillDirfirstCache(dir: string, cache: string, sets: string[]): Promise<void> {
  const out = join(dir, 'cost-fill-dirfirst');
  await umlbuild([dirfirst, '--out', out, '--cache-dir', cache, '--renderer', 'silent', '--no-checksum', ...sets.flatMap((s) => ['--set', s])]);
  await rm(out, { recursive: true, force: true });
}

function option(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const list = (s: string | undefined) => (s === 'none' ? [] : s?.split(',').map(Number));

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const runs = Number(process.argv[2]?.startsWith('--') ? 3 : (process.argv[2] ?? 3));
  const dir = await tempDir('umlbuild-bench-cost-', '/var/tmp');
  try {
    console.log('building dist/ (umlbuild as installed) ...');
    await exec('npm', ['run', 'build'], { cwd: PROJECT });
    const cache = option('--cache-dir') ?? join(dir.path, 'cache');
    const sets = (await findTool('mmdebstrap')) ? ['backend=mmdebstrap'] : [];
    console.log(`  (filling the umlbuild cache for bookworm${sets.length ? ' with mmdebstrap' : ''}, untimed)`);
    await fillDirfirstCache(dir.path, cache, sets);
    const lines = await costTables({ dir: dir.path, runs, cache, dirfirstSets: sets, sizes: list(option('--sizes')), variants: list(option('--variants')) });
    const { stdout: cpu } = await exec('sh', ['-c', "nproc; grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"]);
    console.log(`\nhow cost grows, ${new Date().toISOString().slice(0, 10)}, ${cpu.trim().replace(/\n\s*/, ' cores, ')}:\n`);
    for (const l of lines) console.log(l);
  } finally {
    await dir.remove();
  }
}
