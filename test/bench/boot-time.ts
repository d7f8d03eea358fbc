/**
 * Benchmark: time to the login prompt under UML, as printed by `umlbuild
 * test` (default flags: the recipe's network device on a tap device in a
 * private namespace, no DHCP server), for
 *
 * - the tuned Debian image (recipes/bookworm.yml, `tune: uml`) and
 *   recipes/busybox.yml as shipped, and
 * - baselines built in the same run: the same recipes without the fast-boot
 *   kernel arguments (`launch: { fast_boot: false }`), and for bookworm also
 *   with tune-uml as it was before them (`keep:` for the generators, the units
 *   and the remount-fs/modules-load changes; no `rw rootflags=`), so the rows
 *   split the gain between the kernel and systemd.
 *
 * Prints each boot, then medians and ratios against the baseline.
 *
 *   sudo npx tsx test/bench/boot-time.ts [runs=5]     (npm run bench:boot)
 *
 * Not part of `npm test`: performance is measured, never asserted.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { exec } from '../../src/host/exec.js';
import { MASKED_GENERATORS } from '../../src/steps/tune-uml.js';
import { BIN, PROJECT, tempDir } from '../helpers.js';

const runs = Number(process.argv[2] ?? 5);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const PASSWORD = 'bench-boot';

/** What tune-uml masks or changes since the fast-boot work: `keep:` gives the tuning before it. */
const NEW_TUNING = [
  ...MASKED_GENERATORS,
  'systemd-sysv-generator',
  'systemd-rc-local-generator',
  'systemd-journal-flush.service',
  'systemd-update-utmp.service',
  'systemd-update-utmp-runlevel.service',
  'systemd-random-seed.service',
  'dev-mqueue.mount',
  'systemd-remount-fs.service',
  'systemd-modules-load.service',
  'getty@.service',
];

const dir = await tempDir('umlbuild-bench-boot-', '/var/tmp');
try {
  const recipe = (name: string, body: string) => writeFile(join(dir.path, `${name}.yml`), `name: ${name}\noutput: ${name}\n${body}`).then(() => join(dir.path, `${name}.yml`));
  await exec('cp', ['-r', join(PROJECT, 'recipes/busybox'), dir.path]);
  const dirfirst = join(PROJECT, 'recipes/bookworm.yml');
  // bookworm's steps (from the include it extends) with tune-uml before pack, keeping the new tuning.
  const steps = (parse(await readFile(join(PROJECT, 'recipes/include/debian.yml'), 'utf8')) as { steps: Record<string, unknown>[] }).steps;
  const pack = steps.findIndex((s) => s.step === 'pack');
  const oldTuned = [...steps.slice(0, pack), { step: 'tune-uml', keep: NEW_TUNING }, ...steps.slice(pack)];
  const images: [string, string][] = [
    ['bookworm (tune: uml), as shipped', dirfirst],
    ['bookworm, fast_boot: false', await recipe('bw-nofast', `extends: ${dirfirst}\nlaunch:\n  fast_boot: false\n`)],
    ['bookworm, baseline: fast_boot: false, tuning before, no rw', await recipe('bw-base', `extends: ${dirfirst}\ntune: none\nlaunch:\n  fast_boot: false\n  args: []\nsteps: ${JSON.stringify(oldTuned)}\n`)],
    ['busybox, as shipped', join(PROJECT, 'recipes/busybox.yml')],
    ['busybox, baseline: fast_boot: false', await recipe('bb-base', `extends: ${join(PROJECT, 'recipes/busybox.yml')}\nlaunch:\n  fast_boot: false\n`)],
  ];
  const results: Record<string, number[]> = {};
  for (const [label, file] of images) {
    const out = join(dir.path, `out-${label.replace(/\W+/g, '-')}`);
    await exec(BIN, [file, '--out', out, '--renderer', 'silent', '--set', `root_password=${PASSWORD}`]);
    results[label] = [];
    for (let i = 0; i < runs; i++) {
      const r = await exec(BIN, ['test', out, '--timeout', '300', '--login', `root:${PASSWORD}`], { reject: false });
      const m = /login prompt after ([\d.]+) s, shell after ([\d.]+) s/.exec(r.stdout);
      if (!m || r.exitCode !== 0) throw new Error(`${label}: umlbuild test failed:\n${r.stdout}\n${r.stderr}`);
      results[label]!.push(Number(m[1]));
      console.log(`${label} run ${i + 1}: login prompt ${m[1]} s, shell ${m[2]} s (load ${loadavg()[0]!.toFixed(2)})`);
    }
  }
  const row = (label: string, base: string) => {
    const m = median(results[label]!);
    return `| ${label} | ${results[label]!.map((x) => x.toFixed(1)).join(' ')} | ${m.toFixed(1)} s | ${(m / median(results[base]!)).toFixed(2)} |`;
  };
  console.log(
    `\nmedian time to the login prompt over ${runs} boots (umlbuild test, tap, no DHCP server); load average now ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}:`,
  );
  console.log('| image | runs (s) | median | ratio to its baseline |\n|---|---|---|---|');
  const [bwNew, bwNoFast, bwBase, bbNew, bbBase] = images.map(([l]) => l) as [string, string, string, string, string];
  for (const l of [bwBase, bwNoFast, bwNew]) console.log(row(l, bwBase));
  for (const l of [bbBase, bbNew]) console.log(row(l, bbBase));
} finally {
  await dir.remove();
}
