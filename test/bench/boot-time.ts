/**
 * Benchmark: time to the login prompt under UML, as printed by `umlbuild
 * test`, for the bookworm recipe with `tune: uml` (the default) and with
 * `tune: none`, built in the same run, each booted with its network device
 * (a tap device in a private namespace, no DHCP server) and without any
 * network (`--no-network`). Prints medians and the ratios.
 *
 *   sudo npx tsx test/bench/boot-time.ts [runs=3]
 *
 * Not part of `npm test`: performance is measured, never asserted.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { exec } from '../../src/host/exec.js';
import { BIN, PROJECT, tempDir } from '../helpers.js';

const runs = Number(process.argv[2] ?? 3);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const dir = await tempDir('umlbuild-bench-', '/var/tmp');
try {
  const untuned = join(dir.path, 'untuned.yml');
  await writeFile(untuned, `name: untuned\nextends: ${join(PROJECT, 'recipes/bookworm.yml')}\ntune: none\noutput: untuned\n`);
  const modes = [
    ['tap, no DHCP server', []],
    ['no network', ['--no-network']],
  ] as const;
  const results: Record<string, number[]> = {};
  for (const [label, recipe] of [
    ['tune: uml', join(PROJECT, 'recipes/bookworm.yml')],
    ['tune: none', untuned],
  ] as const) {
    const out = join(dir.path, label.replace(/\W+/g, '-'));
    await exec(BIN, [recipe, '--out', out, '--renderer', 'silent']);
    for (const [mode, flags] of modes) {
      const key = `${label} | ${mode}`;
      results[key] = [];
      for (let i = 0; i < runs; i++) {
        const r = await exec(BIN, ['test', out, '--timeout', '300', ...flags], { reject: false });
        const m = /login prompt after ([\d.]+) s, shell after ([\d.]+) s/.exec(r.stdout);
        if (!m) throw new Error(`no timing in:\n${r.stdout}`);
        results[key]!.push(Number(m[1]));
        console.log(`${key} run ${i + 1}: login prompt ${m[1]} s, shell ${m[2]} s`);
      }
    }
  }
  console.log(`\nmedian time to the login prompt over ${runs} boots, bookworm recipe:`);
  console.log('| network | tune: none | tune: uml | ratio uml/none |\n|---|---|---|---|');
  for (const [mode] of modes) {
    const plain = median(results[`tune: none | ${mode}`]!);
    const tuned = median(results[`tune: uml | ${mode}`]!);
    console.log(`| ${mode} | ${plain.toFixed(1)} s | ${tuned.toFixed(1)} s | ${(tuned / plain).toFixed(2)} |`);
  }
} finally {
  await dir.remove();
}
