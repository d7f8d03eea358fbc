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

/** Wall seconds of one run of `cmd`, from start to exit. */
function once(cmd: string, argv: string[], cwd: string): number {
  const t = process.hrtime.bigint();
  const r = spawnSync(cmd, argv, { cwd, env: npmEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  const s = Number(process.hrtime.bigint() - t) / 1e9;
  if (r.status !== 0) throw new Error(`${cmd} ${argv.join(' ')} exited ${r.status}: ${r.stderr}`);
  return s;
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
  const commands: [string, string, string[]][] = [
    ['node -e 0 (the floor)', process.execPath, ['-e', '0']],
    [`installed: umlbuild ${args.join(' ')}`, pkg.bin, args],
    [`checkout (tsx): bin/umlbuild ${args.join(' ')}`, BIN, args],
  ];
  // One warm-up each, then the three in turn, so that a machine whose speed drifts slows all three alike.
  for (const [, cmd, argv] of commands) once(cmd, argv, empty);
  const times: number[][] = commands.map(() => []);
  for (let i = 0; i < runs; i++) for (const [k, [, cmd, argv]] of commands.entries()) times[k]!.push(once(cmd, argv, empty));
  const rows = commands.map(([label], k) => [label, stats(times[k]!)] as const);
  console.log(`\nwall seconds over ${runs} runs each (after one warm-up, taken in turn), node ${process.version}:`);
  console.log('| command | min | median | max |\n|---|---|---|---|');
  for (const [label, s] of rows) console.log(`| ${label} | ${s.min.toFixed(3)} | ${s.median.toFixed(3)} | ${s.max.toFixed(3)} |`);
  const [floor, installed, checkout] = rows.map(([, s]) => s.median) as [number, number, number];
  console.log(`\nratio of medians, checkout / installed: ${(checkout / installed).toFixed(2)}; installed less node's own start: ${(installed - floor).toFixed(3)} s`);
} finally {
  await dir.remove();
}
