/**
 * Benchmark: labs (issue 16). How long a lab of N busybox machines on one
 * segment takes from `up` to every machine logged in with its address set,
 * and what it costs the host in memory, for N = 2, 4 and 8, against one
 * machine brought up the same way in the same run (the baseline). As root;
 * not part of `npm test`: performance is measured, never asserted.
 *
 * Memory: MemAvailable (/proc/meminfo) before `up` and once every machine is
 * up, and the UML processes' own proportional share (Pss of smaps_rollup,
 * summed over every process whose command line holds a machine's umid).
 *
 *   sudo npm run bench:lab [-- runs]
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { downLab, type Lab, statusLab, upLab } from '../../src/api/lab.js';
import { exec } from '../../src/host/exec.js';
import { BIN, PROJECT, tempDir } from '../helpers.js';
import { stats } from './common.js';

const runs = Number(process.argv[2] ?? 3);
const SIZES = [2, 4, 8];

function memAvailableKiB(): number {
  return Number(/^MemAvailable:\s+(\d+)/m.exec(readFileSync('/proc/meminfo', 'utf8'))![1]);
}

/** Summed Pss (KiB) of the processes whose command line holds one of `umids`. */
function umlPssKiB(umids: string[]): number {
  let kib = 0;
  for (const p of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try {
      const argv = readFileSync(`/proc/${p}/cmdline`, 'utf8');
      if (!umids.some((u) => argv.includes(`umid=${u}`))) continue;
      kib += Number(/^Pss:\s+(\d+)/m.exec(readFileSync(`/proc/${p}/smaps_rollup`, 'utf8'))?.[1] ?? 0);
    } catch {
      /* gone */
    }
  }
  return kib;
}

/** A lab of `n` machines on one segment, 10.77.0.1 ... 10.77.0.n, from `image`. */
function labOf(n: number, image: string, dir: string): Lab {
  const names = Array.from({ length: n }, (_, i) => `m${i + 1}`);
  return {
    name: `bench-${n}`,
    file: join(dir, `bench-${n}.yml`),
    dir,
    format: 'umlbuild',
    segments: [{ name: 'lan', where: 'bench' }],
    machines: names.map((name, i) => ({
      name,
      source: { kind: 'image', image },
      memory: '64M',
      interfaces: [{ name: 'eth0', segment: 'lan', address: `10.77.0.${i + 1}/24` }],
      routes: [],
      files: [],
      startup: [],
      after: [],
      where: `bench machine ${name}`,
    })),
    checks: [],
  };
}

const dir = await tempDir('umlbuild-bench-lab-', '/var/tmp');
try {
  console.log('building recipes/busybox.yml (untimed) ...');
  const out = join(dir.path, 'out');
  await exec(BIN, [join(PROJECT, 'recipes/busybox.yml'), '--out', out, '--cache-dir', join(dir.path, 'cache'), '--renderer', 'silent', '--set', 'root_password=root', '--set', 'network=none'], {
    env: { UMLBUILD_TEST_PASSWORD: 'root' },
  });
  const image = join(out, 'busybox.img');
  process.env.UMLBUILD_TEST_PASSWORD = 'root';
  const rows: { n: number; seconds: number[]; availMiB: number[]; pssMiB: number[] }[] = [];
  for (const n of [1, ...SIZES]) {
    const row = { n, seconds: [] as number[], availMiB: [] as number[], pssMiB: [] as number[] };
    rows.push(row);
    for (let i = 0; i < runs; i++) {
      const lab = labOf(n, image, dir.path);
      await exec('sync', []);
      const before = memAvailableKiB();
      const t0 = process.hrtime.bigint();
      await upLab(lab, { cacheDir: false });
      const s = Number(process.hrtime.bigint() - t0) / 1e9;
      try {
        const after = memAvailableKiB();
        const { state } = await statusLab(lab.name);
        row.seconds.push(s);
        row.availMiB.push((before - after) / 1024);
        row.pssMiB.push(umlPssKiB(state.machines.map((m) => m.umid)) / 1024);
        console.log(`  ${n} machine(s) #${i + 1}: all logged in after ${s.toFixed(2)} s, MemAvailable -${((before - after) / 1024).toFixed(0)} MiB`);
      } finally {
        await downLab(lab.name);
      }
    }
  }
  const when = new Date().toISOString().slice(0, 10);
  const { stdout: cpu } = await exec('sh', ['-c', "nproc; grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"]);
  console.log(`\nlab benchmark, ${when}, ${cpu.trim().replace(/\n\s*/, ' cores, ')}; busybox machines (64M each) on one segment; ${runs} runs each (min / median / max):\n`);
  const base = stats(rows[0]!.seconds).median;
  console.log('  machines   up, all logged in (s)       / one machine   MemAvailable used (MiB, median)   UML Pss (MiB, median)');
  for (const r of rows) {
    const s = stats(r.seconds);
    console.log(
      `  ${String(r.n).padStart(8)}   ${s.min.toFixed(2)} / ${s.median.toFixed(2)} / ${s.max.toFixed(2)}`.padEnd(40) +
        `${(s.median / base).toFixed(2).padStart(8)}x   ${stats(r.availMiB).median.toFixed(0).padStart(20)}   ${stats(r.pssMiB).median.toFixed(0).padStart(20)}`,
    );
  }
} finally {
  await dir.remove();
}
