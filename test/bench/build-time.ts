/**
 * Benchmark: how long it takes to get a bootable bookworm image, umlbuild
 * against the ways it replaces, all in one run on this machine (`npm run
 * bench`, as root; not part of `npm test`: performance is measured, never
 * asserted). Each way runs `runs` times (default 3); the table gives min /
 * median / max seconds of the whole process, and the ratios of medians.
 *
 * - shell: test/bench/baseline.sh, the UML HowTo by hand (truncate, mkfs, loop
 *   mount, debootstrap, config, modules);
 * - vmdb2 (when installed): cold, and warm with --rootfs-tarball filled. There
 *   is no device mapper here for kpartx, so vmdb2 gets a loop device made with
 *   `losetup -P` (its block-device mode) and partitions it;
 * - umlbuild, from dist/ (what an install runs): cold without any cache, with
 *   debootstrap and with mmdebstrap; warm, where only the hostname and the
 *   password change (a cached base image plus debugfs edits), without an
 *   integrity record, with default flags (the block map: its own cost is read
 *   from the build's event log), with the whole image's sha256, and with only
 *   the bootstrap cache (--no-fast);
 * - COW variants: 1, 4 and 10 variants over a warm base.
 *
 * Then a second table, how cost grows (test/bench/cost.ts, with this run's
 * warm cache): image sizes 1 to 64 GiB and 1 to 50 COW variants, time and
 * allocated bytes. `npm run bench:cost` runs that table alone.
 *
 *   sudo npm run bench [-- runs] [--only warm|cold]
 */
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { exec } from '../../src/host/exec.js';
import { findTool } from '../../src/host/tools.js';
import { detectMirror } from '../../src/host/mirror.js';
import { BIN, PROJECT, tempDir } from '../helpers.js';
import { DIST, stats } from './common.js';
import { costTables } from './cost.js';

const runs = Number(process.argv[2] ?? 3);
/**
 * `--only warm`: the warm rows and vmdb2's warm row only (about 2 minutes); `--only cold`: the cold rows,
 * vmdb2's cold row and the bootstrap tool alone (about 5 minutes); for a quick re-measure.
 */
const only = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : undefined;
const warmOnly = only === 'warm';
const coldOnly = only === 'cold';
const PACKAGES = 'systemd-sysv,udev,kmod,ifupdown,isc-dhcp-client,iproute2,netbase,procps';
/** The README's recipe (directory-first, backend auto), built as a user runs it. */
const readme = join(PROJECT, 'recipes/bookworm.yml');
const howto = join(PROJECT, 'recipes/bookworm-howto.yml');

interface Row {
  label: string;
  seconds: number[];
  note?: string;
}
const rows = new Map<string, Row>();

/** Time `fn` (a whole process or a few) `runs` times under `label`; `before` runs untimed first. */
async function measure(label: string, fn: (i: number) => Promise<void>, before?: (i: number) => Promise<void>): Promise<void> {
  const row = rows.get(label) ?? { label, seconds: [] };
  rows.set(label, row);
  for (let i = 0; i < runs; i++) {
    await before?.(i);
    // The previous runs' outputs go first (untimed): a rebuild into the same --out replaces its image, and
    // a page cache full of old images made the copy of the next one 4x slower here (0.12 -> 0.5 s).
    await rm(outs, { recursive: true, force: true });
    // Each timed run starts with the previous runs' writes on the disk (untimed): a build's image is
    // hundreds of MB, and writeback of the last one would otherwise slow the next.
    await exec('sync', []);
    const t0 = process.hrtime.bigint();
    await fn(i);
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    row.seconds.push(s);
    console.log(`  ${label} #${i + 1}: ${s.toFixed(2)} s`);
  }
}

const median = (label: string) => (rows.has(label) ? stats(rows.get(label)!.seconds).median : NaN);

const dir = await tempDir('umlbuild-bench-', '/var/tmp');
/** Where the timed umlbuild runs write (emptied before each timed run). */
const outs = join(dir.path, 'outs');
const mirror = await detectMirror('bookworm');
if (!mirror) throw new Error("no Debian mirror in this host's apt sources");
try {
  console.log(`building dist/ (umlbuild as installed) ...`);
  await exec('npm', ['run', 'build'], { cwd: PROJECT });
  const umlbuild = (args: string[], env: Record<string, string> = {}) => exec(BIN, args, { env: { ...DIST, ...env } }).then(() => undefined);

  // The hand-written way.
  if (!warmOnly && !coldOnly)
    await measure(
      'shell baseline (debootstrap, loop mount), cold',
      async (i) => {
        await exec('bash', [join(PROJECT, 'test/bench/baseline.sh'), join(dir.path, `shell-${i}.img`), mirror, PACKAGES]);
      },
      (i) => rm(join(dir.path, `shell-${i}.img`), { force: true }),
    );

  // vmdb2, cold and warm.
  const vmdb2 = await findTool('vmdb2');
  if (vmdb2) {
    const spec = (cached: boolean) =>
      [
        'steps:',
        '  - mklabel: msdos',
        '    device: "{{ image }}"',
        '  - mkpart: primary',
        '    device: "{{ image }}"',
        '    start: 0%',
        '    end: 100%',
        '    tag: root',
        '  - mkfs: ext4',
        '    partition: root',
        '  - mount: root',
        ...(cached ? ['  - unpack-rootfs: root'] : []),
        '  - debootstrap: bookworm',
        `    mirror: ${mirror}`,
        '    target: root',
        '    variant: minbase',
        `    include: [${PACKAGES}]`,
        ...(cached ? ['    unless: rootfs_unpacked', '  - cache-rootfs: root', '    unless: rootfs_unpacked'] : []),
        '  - create-file: /etc/hostname',
        '    contents: uml',
        '  - chroot: root',
        '    shell: echo root:bench-pw | chpasswd',
        '',
      ].join('\n');
    await writeFile(join(dir.path, 'cold.vmdb'), spec(false));
    await writeFile(join(dir.path, 'warm.vmdb'), spec(true));
    const tarball = join(dir.path, 'vmdb2-rootfs.tar.gz');
    const runVmdb2 = async (specFile: string, i: number, extra: string[]) => {
      const img = join(dir.path, `vmdb2-${i}.img`);
      await rm(img, { force: true });
      await exec('truncate', ['-s', '2G', img]);
      const { stdout: loop } = await exec('losetup', ['--find', '--show', '--partscan', img]);
      try {
        await exec('vmdb2', [specFile, '--image', loop.trim(), '--log', join(dir.path, 'vmdb2.log'), ...extra]);
      } finally {
        await exec('losetup', ['-d', loop.trim()]);
      }
    };
    if (!warmOnly) await measure('vmdb2, cold', (i) => runVmdb2(join(dir.path, 'cold.vmdb'), i, []));
    console.log("  (filling vmdb2's rootfs tarball, untimed)");
    if (!coldOnly) {
      await runVmdb2(join(dir.path, 'warm.vmdb'), 99, ['--rootfs-tarball', tarball]);
      await measure('vmdb2, warm (--rootfs-tarball)', (i) => runVmdb2(join(dir.path, 'warm.vmdb'), i, ['--rootfs-tarball', tarball]));
    }
  } else {
    console.log('vmdb2 is not installed (apt-get install vmdb2): its rows are skipped');
  }

  // umlbuild.
  // Cold: an empty cache directory each run (what a first build pays, filling the caches included), default flags.
  const cold = (tag: string, extra: string[]) => (i: number) => umlbuild([readme, '--out', join(outs, `${tag}-${i}`), '--cache-dir', join(outs, `${tag}-cache-${i}`), '--set', `root_password=pw-${tag}-${i}`, ...extra]);
  if (!warmOnly) {
    await measure('umlbuild cold, default flags (mmdebstrap, auto)', cold('cold-def', []));
    await measure('umlbuild cold, --set backend=debootstrap', cold('cold-deb', ['--set', 'backend=debootstrap']));
    // The floor of a cold build: the bootstrap tool alone, with the arguments the default build gives it, into tmpfs.
    if (await findTool('mmdebstrap')) {
      const tree = (i: number) => `/dev/shm/umlbuild-bench-mmdebstrap-${process.pid}-${i}`;
      await measure(
        'mmdebstrap alone (the same bootstrap, into tmpfs)',
        (i) =>
          exec('mmdebstrap', ['--mode=root', '--format=directory', '--skip=check/empty', '--variant=minbase', '--components=main', `--include=${PACKAGES}`, 'bookworm', tree(i), mirror], { onLine: () => undefined }).then(() => undefined),
        (i) => rm(tree(i), { recursive: true, force: true }),
      );
      for (let i = 0; i < runs; i++) await rm(tree(i), { recursive: true, force: true });
    }
  }
  const cache = join(dir.path, 'cache');
  const integrity: number[] = [];
  const integrityNotes: string[] = [];
  const variantRows: string[] = [];
  if (!coldOnly) {
    console.log('  (filling the umlbuild cache, untimed)');
    await umlbuild([readme, '--out', join(dir.path, 'fill'), '--cache-dir', cache, '--renderer', 'silent', '--set', 'root_password=fill']);
    const warm =
      (tag: string, extra: string[], recipe = readme) =>
      (i: number) =>
        umlbuild([recipe, '--out', join(outs, `${tag}-${i}`), '--cache-dir', cache, '--renderer', 'silent', '--set', `hostname=${tag}-${i}`, '--set', `root_password=pw-${tag}-${i}`, ...extra]);
    await measure('umlbuild warm, default flags', (i) => umlbuild([readme, '--out', join(outs, `warmplain-${i}`), '--cache-dir', cache, '--set', `hostname=warmplain-${i}`, '--set', `root_password=pw-warmplain-${i}`]));
    await measure('umlbuild warm: base image + debugfs edits', warm('warm', ['--no-checksum']));
    // Default flags: the block map in the manifest. Its cost inside the build, from the build's own event log (ndjson).
    await measure('umlbuild warm, default flags (block map in the manifest)', async (i) => {
      const { stdout } = await exec(BIN, [readme, '--out', join(outs, `warmdef-${i}`), '--cache-dir', cache, '--log-format', 'ndjson', '--set', `hostname=warmdef-${i}`, '--set', `root_password=pw-warmdef-${i}`], { env: DIST });
      const m = /"line":"integrity record: ([^"]*) in ([\d.]+) s"/.exec(stdout);
      if (m) {
        integrity.push(Number(m[2]));
        integrityNotes.push(m[1]!);
      }
    });
    await measure('umlbuild warm, --checksum sha256 (whole image)', warm('warmsum', ['--checksum', 'sha256']));
    await measure('umlbuild warm, bootstrap cache only (--no-fast)', warm('nofast', ['--no-checksum', '--no-fast']));
    await measure('bookworm-howto.yml (loop mount) warm, bootstrap cache', warm('howto', [], howto));

    // COW variants over the warm base.
    for (const n of warmOnly ? [] : [1, 4, 10]) {
      const recipe = join(dir.path, `variants-${n}.yml`);
      const names = Array.from({ length: n }, (_, i) => `v${i + 1}`);
      await writeFile(recipe, [`name: variants-${n}`, `extends: ${readme}`, 'variants:', ...names.map((v) => `  - name: ${v}\n    variables: { hostname: ${v} }`), ''].join('\n'));
      const t0 = process.hrtime.bigint();
      const { stdout } = await exec(BIN, [recipe, '--out', join(dir.path, `variants-${n}`), '--cache-dir', cache, '--renderer', 'silent', '--no-checksum'], { env: DIST });
      const total = Number(process.hrtime.bigint() - t0) / 1e9;
      const each = [...stdout.matchAll(/^ {2}variant \S+: .* MiB allocated, ([\d.]+) s\)/gm)].map((m) => Number(m[1]));
      variantRows.push(`${String(n).padStart(3)} variants: ${total.toFixed(1)} s in all, ${each.reduce((a, b) => a + b, 0).toFixed(1)} s for the variants (${stats(each).median.toFixed(1)} s each, median)`);
    }
  }

  // Report.
  const when = new Date().toISOString().slice(0, 10);
  const { stdout: cpu } = await exec('sh', ['-c', "nproc; grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"]);
  console.log(`\nbuild benchmark, ${when}, ${cpu.trim().replace(/\n\s*/, ' cores, ')}; ${runs} runs each; seconds (min / median / max):\n`);
  for (const r of rows.values()) {
    const s = stats(r.seconds);
    console.log(`  ${r.label.padEnd(52)} ${s.min.toFixed(2).padStart(6)} ${s.median.toFixed(2).padStart(6)} ${s.max.toFixed(2).padStart(6)}`);
  }
  const ratio = (a: string, b: string, target?: string) => {
    const v = median(a) / median(b);
    if (Number.isFinite(v)) console.log(`  ${`${a} / ${b}`.padEnd(100)} ${v.toFixed(2)}${target ? `  (target ${target})` : ''}`);
  };
  console.log('\nratios of medians:');
  ratio('umlbuild cold, default flags (mmdebstrap, auto)', 'vmdb2, cold', '<= 0.40');
  ratio('umlbuild cold, --set backend=debootstrap', 'vmdb2, cold');
  ratio('umlbuild cold, default flags (mmdebstrap, auto)', 'shell baseline (debootstrap, loop mount), cold');
  ratio('mmdebstrap alone (the same bootstrap, into tmpfs)', 'vmdb2, cold');
  ratio('umlbuild cold, default flags (mmdebstrap, auto)', 'mmdebstrap alone (the same bootstrap, into tmpfs)');
  ratio('umlbuild warm, default flags', 'vmdb2, warm (--rootfs-tarball)', '<= 0.30, and <= 1.0 s');
  ratio('umlbuild warm: base image + debugfs edits', 'vmdb2, warm (--rootfs-tarball)');
  ratio('umlbuild warm, default flags (block map in the manifest)', 'vmdb2, warm (--rootfs-tarball)', '<= 0.30');
  ratio('umlbuild warm, --checksum sha256 (whole image)', 'vmdb2, warm (--rootfs-tarball)');
  if (integrity.length) {
    const st = stats(integrity);
    console.log(`\nthe integrity record inside a warm build with default flags (target <= 0.2 s): ${st.min.toFixed(3)} / ${st.median.toFixed(3)} / ${st.max.toFixed(3)} s (${integrityNotes[0]})`);
  }
  ratio('umlbuild warm, bootstrap cache only (--no-fast)', 'vmdb2, warm (--rootfs-tarball)');
  ratio('bookworm-howto.yml (loop mount) warm, bootstrap cache', 'vmdb2, warm (--rootfs-tarball)');
  console.log('\nCOW variants over a warm base (one run each):');
  for (const l of variantRows) console.log(`  ${l}`);

  // The second table: how cost grows with the image size and the number of variants.
  if (!warmOnly && !coldOnly) {
    console.log('\nhow cost grows (measuring) ...');
    const cost = await costTables({ dir: dir.path, runs, cache });
    console.log('\nhow cost grows:\n');
    for (const l of cost) console.log(l);
  }
} finally {
  await dir.remove();
}
