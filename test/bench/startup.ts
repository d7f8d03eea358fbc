/**
 * Benchmark: how long `umlbuild --version` and `umlbuild validate
 * recipes/bookworm.yml` take, whole process (node's own start included), for
 * the installed package (npm pack, npm install -g into a temporary prefix: the
 * bundle of dist/bundle/), for this checkout as its user runs it after
 * `npm ci` (bin/umlbuild runs the bundle while it is current: npm pack's
 * build made it) and for this checkout running src/ through tsx
 * (UMLBUILD_SRC=1: after an edit, before `npm run build`), with `node -e 0` as
 * the floor. Prints min, median and max of each and the ratios of the medians.
 *
 *   npm run bench:startup [-- runs=10 [command args...]]    e.g. -- 20 --help
 *
 * Not part of `npm test`: performance is measured, never asserted.
 */
import { spawnSync } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { BIN, PROJECT, tempDir } from '../helpers.js';
import { npmEnv, packAndInstall } from '../support/package.js';

const runs = Number(process.argv[2] ?? 10);
const commandArgs: string[][] = process.argv.length > 3 ? [process.argv.slice(3)] : [['--version'], ['validate', join(PROJECT, 'recipes/bookworm.yml')]];

/** Wall seconds of one run of `cmd`, from start to exit. */
function once(cmd: string, argv: string[], cwd: string, env: Record<string, string>): number {
  const t = process.hrtime.bigint();
  const r = spawnSync(cmd, argv, { cwd, env: { ...npmEnv(), ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const s = Number(process.hrtime.bigint() - t) / 1e9;
  if (r.status !== 0) throw new Error(`${cmd} ${argv.join(' ')} exited ${r.status}: ${r.stderr}`);
  return s;
}

const stats = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return { min: s[0]!, median: s[Math.floor(s.length / 2)]!, max: s[s.length - 1]! };
};

type Row = [label: string, cmd: string, argv: string[], env: Record<string, string>];

/** Time each row `runs` times, in turn, and print the table and the ratios of the medians to the first non-floor row. */
function measure(rows: Row[], cwd: string): void {
  // One warm-up each, then the rows in turn, so that a machine whose speed drifts slows all alike.
  for (const [, cmd, argv, env] of rows) once(cmd, argv, cwd, env);
  const times: number[][] = rows.map(() => []);
  for (let i = 0; i < runs; i++) for (const [k, [, cmd, argv, env]] of rows.entries()) times[k]!.push(once(cmd, argv, cwd, env));
  const table = rows.map(([label], k) => [label, stats(times[k]!)] as const);
  console.log(`\nwall seconds over ${runs} runs each (after one warm-up, taken in turn), node ${process.version}:`);
  console.log('| command | min | median | max |\n|---|---|---|---|');
  for (const [label, st] of table) console.log(`| ${label} | ${st.min.toFixed(3)} | ${st.median.toFixed(3)} | ${st.max.toFixed(3)} |`);
  const [floor, installed, ...others] = table.map(([, st]) => st.median) as [number, number, ...number[]];
  console.log(`installed less node's own start: ${(installed - floor).toFixed(3)} s; ${others.map((m, k) => `${table[k + 2]![0].split(':')[0]} / installed: ${(m / installed).toFixed(2)}`).join('; ')}`);
}

const dir = await tempDir('umlbuild-bench-startup-', '/var/tmp');
try {
  console.log('packing and installing into a temporary prefix ...');
  const pkg = await packAndInstall(dir.path);
  const empty = join(dir.path, 'empty');
  await mkdir(empty);
  const floor: Row = ['node -e 0 (the floor)', process.execPath, ['-e', '0'], {}];
  for (const args of commandArgs) {
    const shown = args.map((a) => (a.startsWith(PROJECT) ? relative(PROJECT, a) : a)).join(' ');
    measure(
      [
        floor,
        [`installed (bundle): umlbuild ${shown}`, pkg.bin, args, {}],
        [`checkout after npm ci (bundle): bin/umlbuild ${shown}`, BIN, args, {}],
        [`checkout, src/ through tsx: UMLBUILD_SRC=1 bin/umlbuild ${shown}`, BIN, args, { UMLBUILD_SRC: '1' }],
      ],
      empty,
    );
  }
} finally {
  await dir.remove();
}
