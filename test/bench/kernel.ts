/**
 * Benchmark: building a UML kernel (issue 17). linux-source-6.1, defconfig +
 * umlbuild's base fragment + a small fragment, through the library call
 * behind `umlbuild kernel` (api/kernel.ts), into a fresh cache:
 *
 * - cold: an empty cache (the tarball unpacked, an empty ccache, a new build directory);
 * - incremental: one option changed (a new cache entry, built in the same build directory);
 * - cached: the same request again (the entry's files checked against their record), and the same through bin/umlbuild.
 *
 * Not part of any test: performance is measured, never asserted. The cold
 * build takes minutes on 2 cores; it runs once unless asked.
 *
 *   sudo npm run bench:kernel [-- cached-runs [cold-runs]]
 */
import { writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { kernel } from '../../src/api/kernel.js';
import { exec } from '../../src/host/exec.js';
import { BIN, tempDir } from '../helpers.js';
import { stats, timed } from './common.js';

const cachedRuns = Number(process.argv[2] ?? 5);
const coldRuns = Number(process.argv[3] ?? 1);

const t = await tempDir('umlbuild-bench-kernel-', '/var/tmp');
try {
  const fragment = join(t.path, 'bench.config');
  await writeFile(fragment, 'CONFIG_LOCALVERSION="-bench"\nCONFIG_DUMMY=m\nCONFIG_VETH=m\n');
  const rows: [string, number[]][] = [];
  const load: number[] = [];
  const cold: number[] = [];
  let cacheDir = '';
  for (let i = 0; i < coldRuns; i++) {
    cacheDir = join(t.path, `cache-${i}`);
    load.push(loadavg()[0]!);
    cold.push((await timed(() => kernel({ fragments: [fragment], cacheDir }))).seconds);
  }
  rows.push(['cold (empty cache)', cold]);
  const inc: number[] = [];
  for (let i = 0; i < Math.min(cachedRuns, 2); i++) inc.push((await timed(() => kernel({ fragments: [fragment], set: [`CONFIG_NLMON=${i ? 'y' : 'm'}`], cacheDir }))).seconds);
  rows.push(['incremental (one option changed)', inc]);
  const cached: number[] = [];
  for (let i = 0; i < cachedRuns; i++) cached.push((await timed(() => kernel({ fragments: [fragment], cacheDir }))).seconds);
  rows.push(['cached (api)', cached]);
  const cli: number[] = [];
  for (let i = 0; i < cachedRuns; i++) cli.push((await timed(() => exec(BIN, ['kernel', '--fragment', fragment, '--cache-dir', cacheDir, '-q']))).seconds);
  rows.push(['cached (bin/umlbuild kernel)', cli]);
  console.log(`kernel build of linux-source-6.1 (defconfig + umlbuild.config + bench.config), ${coldRuns} cold, ${cachedRuns} cached runs; load average at the cold start(s): ${load.map((l) => l.toFixed(1)).join(', ')}`);
  console.log(`${'case'.padEnd(36)} ${'median s'.padStart(9)} ${'min s'.padStart(9)} ${'max s'.padStart(9)}`);
  for (const [name, xs] of rows) {
    const s = stats(xs);
    console.log(`${name.padEnd(36)} ${s.median.toFixed(2).padStart(9)} ${s.min.toFixed(2).padStart(9)} ${s.max.toFixed(2).padStart(9)}`);
  }
  console.log(`cached/cold: ${(stats(cached).median / stats(cold).median).toFixed(5)}`);
} finally {
  await t.remove();
}
