/**
 * The own-kernel path, the way a person runs it: `umlbuild kernel` builds
 * linux-source-6.1 once per run (test/kernel/fixture.ts: defconfig +
 * umlbuild's base fragment + a fragment with this run's CONFIG_LOCALVERSION
 * and two modules), the same command again takes it from the cache, a changed
 * option builds again (incrementally, in the same build directory); the files
 * written, the config, the modules and what cache ls shows. Then hostile
 * input: links planted in --out and in the cache entry, and bad options.
 * npm run test:kernel (a separate suite: a kernel build takes minutes).
 */
import assert from 'node:assert/strict';
import { lstat, readdir, readFile, realpath, symlink, unlink } from 'node:fs/promises';
import { execa } from 'execa';
import { join } from 'node:path';
import { exec } from '../../src/host/exec.js';
import { sha256File } from '../../src/host/hashing.js';
import { isRoot } from '../../src/host/tools.js';
import { parseConfig } from '../../src/kernel/config.js';
import { BIN, tempDir, type TempDir } from '../helpers.js';
import { skipBecause } from '../support/skip.js';
import { builtKernel, KERNEL_TEST_CACHE, kernelRecipe, type KernelFixture, umlbuildKernel } from './fixture.js';

describe('umlbuild kernel (a real build of linux-source-6.1)', function () {
  this.timeout(90 * 60_000);
  let k: KernelFixture;
  let t: TempDir;
  /** The image the recipe test builds (booted by the tests after it). */
  let builtImage: string | undefined;

  before(async function () {
    if (!(await lstat('/usr/src/linux-source-6.1.tar.xz').catch(() => undefined))) skipBecause(this, 'linux-source-6.1 (apt-get install linux-source-6.1)');
    k = await builtKernel();
    process.stderr.write(`      (kernel ${k.release}: umlbuild kernel took ${k.seconds.toFixed(1)} s)\n`);
    t = await tempDir('umlbuild-kernel-');
  });
  after(async () => {
    await t?.remove();
  });

  it('writes linux, linux.config, System.map and lib/modules/<release> with the fragment in them', async () => {
    assert.equal(k.release, `${/^(\d+\.\d+\.\d+)/.exec(k.release)![1]}${k.localversion}`);
    assert.match(k.stdout, /^kernel \S+: built in [\d.]+ s$/m);
    for (const f of [k.linux, k.config, k.systemMap]) assert.ok((await lstat(f)).isFile(), f);
    assert.ok(((await lstat(k.linux)).mode & 0o111) !== 0, 'linux is executable');
    // The release is compiled in (what uname -r shows).
    const strings = await exec('strings', [k.linux], { onLine: () => undefined });
    assert.ok(strings.stdout.includes(k.release), 'the release is in the binary');
    const config = parseConfig(await readFile(k.config, 'utf8')).config;
    assert.equal(config.get('CONFIG_LOCALVERSION'), `"${k.localversion}"`);
    assert.equal(config.get('CONFIG_DUMMY'), 'm');
    assert.equal(config.get('CONFIG_VETH'), 'm');
    // umlbuild's base fragment: every line survived olddefconfig.
    const base = parseConfig(await readFile(join(import.meta.dirname, '..', '..', 'kernel', 'umlbuild.config'), 'utf8')).config;
    for (const [option, value] of base) assert.equal(config.get(option), value, `${option} from umlbuild.config`);
    // Modules, depmod'ed, without modules_install's links into the build tree.
    const dep = await readFile(join(k.modulesDir, 'modules.dep'), 'utf8');
    assert.match(dep, /kernel\/drivers\/net\/veth\.ko:/);
    assert.match(dep, /kernel\/drivers\/net\/dummy\.ko:/);
    for (const link of ['build', 'source']) assert.equal(await lstat(join(k.modulesDir, link)).catch(() => undefined), undefined, link);
    const tar = await exec('tar', ['-tf', join(k.entry, 'modules.tar')], { onLine: () => undefined });
    assert.ok(tar.stdout.split('\n').includes(`lib/modules/${k.release}/kernel/drivers/net/veth.ko`));
  });

  it('reports the fragment option olddefconfig dropped (CONFIG_PCI on ARCH=um)', () => {
    assert.match(k.stderr, /warning: CONFIG_PCI=y \(from \/\S+test\.config\) did not survive olddefconfig: the final \.config has it not set/);
  });

  it('the same command again takes it from the cache; cache ls lists it', async () => {
    const out = join(t.path, 'again');
    const t0 = performance.now();
    const r = await umlbuildKernel(['--fragment', k.fragment, '--out', out]);
    process.stderr.write(`      (cached: ${((performance.now() - t0) / 1000).toFixed(2)} s)\n`);
    assert.match(r.stdout, new RegExp(`^kernel ${k.release}: from the cache in [\\d.]+ s$`, 'm'));
    assert.equal(await sha256File(join(out, 'linux')), await sha256File(k.linux));
    assert.match(r.stderr, /CONFIG_PCI=y .* did not survive olddefconfig/, 'the dropped options are reported from the record too');
    const ls = await exec(BIN, ['cache', 'ls', '--cache-dir', KERNEL_TEST_CACHE]);
    assert.match(ls.stdout, new RegExp(`^[0-9a-f]{32} +\\d+ MiB  \\S+  kernel ${k.release} \\(package linux-source-6\\.1 `, 'm'));
  });

  it('a changed option builds again (a cache miss, in the same build directory)', async () => {
    const r = await umlbuildKernel(['--fragment', k.fragment, '--set', 'CONFIG_NLMON=m', '--out', join(t.path, 'nlmon')]);
    assert.match(r.stdout, new RegExp(`^kernel ${k.release}: built in [\\d.]+ s$`, 'm'));
    assert.notEqual(r.stdout.split('\n')[1]!.trim(), k.entry, 'another cache entry');
    assert.match(await readFile(join(t.path, 'nlmon', 'lib', 'modules', k.release, 'modules.dep'), 'utf8'), /nlmon\.ko:/);
  });

  it('--out: links planted there are replaced, never written through (stand-in victims)', async () => {
    const out = join(t.path, 'hostile');
    const victims = await tempDir('umlbuild-victim-');
    try {
      const victim = await victims.write('victim', 'untouched\n');
      await exec('mkdir', ['-p', out]);
      await symlink(victim, join(out, 'linux'));
      await symlink(victim, join(out, 'linux.config'));
      await symlink(victims.path, join(out, 'lib'));
      const r = await umlbuildKernel(['--fragment', k.fragment, '--out', out]);
      assert.match(r.stdout, /from the cache/);
      assert.equal(await readFile(victim, 'utf8'), 'untouched\n');
      assert.ok((await lstat(join(out, 'linux'))).isFile());
      assert.deepEqual(await exec('ls', ['-A', victims.path]).then((x) => x.stdout), 'victim', 'nothing written into the directory lib pointed to');
      assert.equal(await lstat(join(victims.path, 'modules')).catch(() => undefined), undefined);
    } finally {
      await victims.remove();
    }
  });

  it('a cache entry whose file was swapped for a link is removed and rebuilt, never used (stand-in victim)', async () => {
    const victims = await tempDir('umlbuild-victim-');
    try {
      const victim = await victims.write('linux', 'not a kernel\n');
      await unlink(join(k.entry, 'linux'));
      await symlink(victim, join(k.entry, 'linux'));
      const r = await umlbuildKernel(['--fragment', k.fragment, '--out', join(t.path, 'rebuilt')]);
      assert.match(r.stdout, /: built in /, 'rebuilt (an unchanged build directory: make finds nothing to do)');
      assert.ok((await lstat(join(k.entry, 'linux'))).isFile());
      assert.equal(await readFile(victim, 'utf8'), 'not a kernel\n');
      // A relink stamps a new build time into the binary: the record's sha256 names the new file.
      const record = JSON.parse(await readFile(`${k.entry}.json`, 'utf8')) as { sha256: string };
      assert.equal(await sha256File(join(t.path, 'rebuilt', 'linux')), record.sha256);
      assert.equal(await sha256File(join(k.entry, 'linux')), record.sha256);
    } finally {
      await victims.remove();
    }
  });

  it('SIGINT while make runs: exit 130, no build process and no partial cache entry left', async () => {
    const child = execa(BIN, ['kernel', '--cache-dir', KERNEL_TEST_CACHE, '--fragment', k.fragment, '--set', 'CONFIG_TUN=y'], { reject: false, all: true });
    let seen = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`make never started:\n${seen}`)), 10 * 60_000);
      child.all!.on('data', (d: Buffer) => {
        seen += d.toString();
        if (/^\s+CC\s/m.test(seen)) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.catch(reject);
    });
    child.kill('SIGINT');
    const r = await child;
    assert.equal(r.exitCode, 130, r.all);
    assert.match(r.all ?? '', /interrupted by SIGINT/);
    // Every process of the build user died with its namespace; nothing half-written stays in the cache.
    // (A killed process may stay a zombie for a moment, until the host's init reaps it: not counted, and waited for.)
    let left = '';
    for (let i = 0; i < 20; i++) {
      const procs = await exec('ps', ['-o', 'pid,stat,args', '-u', 'umlbuild-build', '--no-headers'], { reject: false });
      left = procs.stdout
        .split('\n')
        .filter((l) => l.trim() && !/^\s*\d+\s+Z/.test(l))
        .join('\n');
      if (!left && !procs.stdout.trim()) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    assert.equal(left, '', 'no build process left');
    const names = await readdir(join(KERNEL_TEST_CACHE, 'kernels'));
    assert.deepEqual(
      names.filter((n) => n.includes('.partial-')),
      [],
    );
    assert.deepEqual(
      names.filter((n) => n.endsWith('.lock')),
      [],
      'no lock left',
    );
  });

  it('a recipe with a kernel step installs the modules into the image and takes the kernel from the cache', async function () {
    if (!isRoot()) skipBecause(this, 'root (the image build)');
    const recipe = await kernelRecipe(k);
    const outDir = join(t.path, 'image');
    const r = await exec(BIN, ['build', recipe, '--out', outDir, '--cache-dir', KERNEL_TEST_CACHE, '--set', 'root_password=kernel-test', '--log-format', 'ndjson'], { onLine: () => undefined, timeoutMs: 30 * 60_000 });
    assert.match(r.stdout, new RegExp(`kernel ${k.release}: from the cache`));
    const image = join(outDir, 'busybox-kernel.img');
    const ls = await exec('debugfs', ['-R', `ls -p /lib/modules/${k.release}/kernel/drivers/net`, image], { onLine: () => undefined });
    assert.match(ls.stdout, /\/veth\.ko\//);
    const manifest = JSON.parse(await readFile(join(outDir, 'busybox-kernel.manifest.json'), 'utf8')) as { kernel?: { modules?: string; release?: string; file?: string } };
    assert.equal(manifest.kernel?.modules, k.release);
    assert.equal(manifest.kernel?.release, k.release);
    assert.equal(manifest.kernel?.file, 'busybox-kernel.linux');
    builtImage = image;
  });

  it("umlbuild test boots the image with its own kernel: uname -r is this run's release, a =m module loads with modprobe", async function () {
    if (!isRoot() || !builtImage) skipBecause(this, 'root and the image of the test before');
    const r = await exec(BIN, ['test', builtImage, '--login', 'root:kernel-test', '--expect', `uname -r=^${k.release}$`, '--expect', 'modprobe dummy && cat /sys/class/net/dummy0/type=^1$', '--expect', 'lsmod=^dummy '], {
      reject: false,
      onLine: () => undefined,
      timeoutMs: 5 * 60_000,
    });
    const out = `${r.stdout}\n${r.stderr}`;
    assert.equal(r.exitCode, 0, out.slice(-3000));
    assert.match(out, new RegExp(`kernel \\S*busybox-kernel\\.linux \\(${k.release.replace(/[.+]/g, '\\$&')}, the image's own`));
    assert.match(out, new RegExp(`expect uname -r\\b.*"${k.release.replace(/[.+]/g, '\\$&')}`));
    assert.match(out, /expect modprobe dummy && cat \/sys\/class\/net\/dummy0\/type\b.*"1"/);
  });

  it("umlbuild test --kernel PATH boots the same image with another kernel (the stock one): its release, not the image's", async function () {
    if (!isRoot() || !builtImage) skipBecause(this, 'root and the image of the test before');
    const stock = await realpath('/usr/bin/linux');
    const r = await exec(BIN, ['test', builtImage, '--login', 'root:kernel-test', '--kernel', stock, '--expect', `uname -r=^${/^(\d+\.\d+\.\d+)/.exec(k.release)![1]}${k.localversion}$`], {
      reject: false,
      onLine: () => undefined,
      timeoutMs: 5 * 60_000,
    });
    const out = `${r.stdout}\n${r.stderr}`;
    // The stock kernel boots and logs in; uname -r is not this run's release, so that one check fails (exit 1), naming what it got.
    assert.equal(r.exitCode, 1, out.slice(-3000));
    assert.match(out, new RegExp(`kernel ${stock.replace(/[.+]/g, '\\$&')} \\(--kernel`));
    assert.match(out, /login\b/);
    assert.doesNotMatch(out, new RegExp(`uname -r.*"${k.release.replace(/[.+]/g, '\\$&')}"`));
    assert.match(out, /output does not match/);
  });
});

describe('umlbuild kernel: bad input (nothing built)', function () {
  this.timeout(120_000);
  let t: TempDir;
  before(async () => {
    t = await tempDir('umlbuild-kernel-');
  });
  after(() => t.remove());

  it('bad input: an option name, a value, a recipe without a kernel step; exit 2 naming it, nothing built', async () => {
    const bad = async (args: string[], message: RegExp) => {
      const r = await umlbuildKernel(args, { reject: false });
      assert.equal(r.exitCode, 2, r.stderr);
      assert.match(r.stderr, message);
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    };
    await bad(['--set', 'HOSTFS=y'], /--set HOSTFS=y: HOSTFS is not an option name/);
    await bad(['--set', 'CONFIG_HOSTFS=yes'], /--set CONFIG_HOSTFS=yes: the value "yes" is not y, m, n/);
    await bad(['--set', 'CONFIG_LOCALVERSION="a\nCONFIG_X=y"'], /the value/);
    await bad(['--source', 'no-such-linux'], /kernel source: \/\S+\/no-such-linux does not exist/);
    const frag = await t.write('bad.config', 'CONFIG_A=y\nnot an option\n');
    await bad(['--fragment', frag], new RegExp(`${frag}:2: not CONFIG_NAME=value`));
    await bad([join(import.meta.dirname, '..', '..', 'recipes', 'busybox.yml')], /the recipe has no kernel step/);
  });

  it('modules kernel_tree: a tree that was never built fails validation, pointing to the kernel step', async () => {
    await t.write('ktree/Makefile', 'all:\n');
    const recipe = await t.write('m.yml', `name: m\noutput: m\nsteps:\n  - step: directory\n  - step: modules\n    kernel_tree: ${join(t.path, 'ktree')}\n  - step: pack\n    size: 64M\n`);
    const r = await exec(BIN, ['validate', recipe], { reject: false });
    assert.equal(r.exitCode, 2, r.stderr);
    assert.match(r.stderr, /steps\[1\]\.kernel_tree: \S+ktree has not been built \(no include\/config\/kernel\.release\).*use the kernel step/);
  });

  it('a recipe kernel step with a missing fragment fails validation naming file:line and key', async () => {
    const recipe = await t.write('k.yml', 'name: k\noutput: k\nsteps:\n  - step: directory\n  - step: kernel\n    fragments: [nope.config]\n  - step: pack\n    size: 64M\n');
    const r = await exec(BIN, ['validate', recipe], { reject: false });
    assert.equal(r.exitCode, 2, r.stderr);
    assert.match(r.stderr, new RegExp(`${recipe}:\\d+:\\d+: steps\\[1\\]\\.fragments\\[0\\]: .*nope\\.config does not exist`));
  });
});
