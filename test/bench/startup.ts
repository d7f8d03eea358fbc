/**
 * Benchmark: how long `umlbuild --version` takes, whole process (node's own
 * start included), for the installed package (npm pack, npm install -g into a
 * temporary prefix: compiled JavaScript in dist/) and for this checkout
 * (bin/umlbuild runs src/ through tsx), with `node -e 0` as the floor. Prints
 * min, median and max of each and the ratio of the medians.
 *
 *   npm run bench:startup [-- runs=20 [command args...]]    e.g. -- 20 --help
 *
 * Not part of `npm test`: performance is measured, never asserted.
 */
import { spawnSync } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { BIN, tempDir } from '../helpers.js';
import { npmEnv, packAndInstall } from '../support/package.js';

const runs = Number(process.argv[2] ?? 20);
const args = process.argv.length > 3 ? process.argv.slice(3) : ['--version'];

/** Wall seconds of each of `n` runs of `cmd` (after one warm-up run), from start to exit. */
function time(cmd: string, argv: string[], cwd: string, n: number): number[] {
  const once = () => {
    const t = process.hrtime.bigint();
    const r = spawnSync(cmd, argv, { cwd, env: npmEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    const s = Number(process.hrtime.bigint() - t) / 1e9;
    if (r.status !== 0) throw new Error(`${cmd} ${argv.join(' ')} exited ${r.status}: ${r.stderr}`);
    return s;
  };
  once();
  return Array.from({ length: n }, once);
}

const stats = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return { min: s[0]!, median: s[Math.floor(s.length / 2)]!, max: s[s.length - 1]! };
};

const dir = await tempDir('umlbuild-bench-startup-', '/var/tmp');
try {
  console.log('packing and installing into a temporary prefix ...');
  const pkg = await packAndInstall(dir.path);
  const empty = join(dir.path, 'empty');
  await mkdir(empty);
  const rows: [string, ReturnType<typeof stats>][] = [
    ['node -e 0 (the floor)', stats(time(process.execPath, ['-e', '0'], empty, runs))],
    [`installed: umlbuild ${args.join(' ')}`, stats(time(pkg.bin, args, empty, runs))],
    [`checkout (tsx): bin/umlbuild ${args.join(' ')}`, stats(time(BIN, args, empty, runs))],
  ];
  console.log(`\nwall seconds over ${runs} runs each (after one warm-up), node ${process.version}:`);
  console.log('| command | min | median | max |\n|---|---|---|---|');
  for (const [label, s] of rows) console.log(`| ${label} | ${s.min.toFixed(3)} | ${s.median.toFixed(3)} | ${s.max.toFixed(3)} |`);
  const installed = rows[1]![1].median;
  const checkout = rows[2]![1].median;
  console.log(`\nratio of medians, checkout / installed: ${(checkout / installed).toFixed(2)}`);
} finally {
  await dir.remove();
}
