/**
 * The recipe's own kernel: what the launch configuration needs of its config
 * (launch/kernel-config), the manifest's kernel record, its files staged
 * beside the image (runner/outputs), the launch script that runs it, and the
 * fast path's view of a vanished kernel cache entry.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { lstat, mkdir, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { RecipeError, UserError } from '../../src/errors.js';
import { sha256Text } from '../../src/host/hashing.js';
import { checkKernelConfig, kernelNeeds, parseKernelConfig } from '../../src/launch/kernel-config.js';
import { launchSchema, type LaunchInput } from '../../src/launch/schema.js';
import { imageManifestSchema, manifestSchema, parseManifest } from '../../src/model/manifest.js';
import { checkManifest } from '../../src/uml/manifest-schema.js';
import { kernelRecord } from '../../src/output/manifest.js';
import { commitOutputs, outputPaths, partialPaths, prepareOutputDir, stageKernelFiles } from '../../src/runner/outputs.js';
import { kernelPresent } from '../../src/runner/fast-path.js';
import { checkBuiltKernel, kernelConfigIssues } from '../../src/runner/kernel-check.js';
import { renderLaunchScript } from '../../src/templates/launch-script.js';
import { configBeside, kernelProblems, refuseUnmet } from '../../src/uml/kernel-file.js';
import type { BuiltKernel } from '../../src/model/kernel.js';
import { rejection, tempDir, type TempDir } from '../helpers.js';
import { z } from 'zod';
import { loadRecipe } from '../../src/recipe/load.js';
import { verifyPlan } from '../../src/runner/verify.js';
import { STEPS } from '../../src/steps/index.js';
import type { AnyStep, Step } from '../../src/steps/types.js';

const launch = (input: LaunchInput) => launchSchema.parse(input);
const options = (needs: { option: string }[]) => [...new Set(needs.map((n) => n.option))].sort();

describe('launch/kernel-config: what a launch configuration needs of the kernel', () => {
  it('an image root on ubd with its filesystem built in, the console channels it uses, vector transports', () => {
    const needs = kernelNeeds({ launch: launch({ networks: [{ device: 'vec0', transport: 'tap', ifname: 'tap0' }] }), rootfs: 'image', fs: 'ext4' });
    assert.deepEqual(options(needs), ['CONFIG_BLK_DEV_UBD', 'CONFIG_EXT4_FS', 'CONFIG_NULL_CHAN', 'CONFIG_UML_NET_VECTOR']);
    const vec = needs.find((n) => n.option === 'CONFIG_UML_NET_VECTOR')!;
    assert.equal(vec.where, 'launch.networks[0].transport');
    assert.match(vec.why, /vector transport tap \(vec0\)/);
  });

  it('a hostfs root needs CONFIG_HOSTFS, not ubd; every channel type and transport maps to its option', () => {
    const l = launch({
      consoles: { con: 'null', con0: 'pty', con1: 'fd:0,fd:1', con2: 'port:9000', con3: 'xterm', ssl: 'pts', ssl1: 'tty:/dev/tty1' },
      networks: [
        { device: 'vec0', transport: 'raw', ifname: 'veth0' },
        { device: 'vec1', transport: 'l2tpv3', dst: '192.0.2.1', rx_session: 1, tx_session: 1, udp: 1 },
        { device: 'eth0', transport: 'tuntap', ifname: 'tap9' },
      ],
      disks: [{ file: 'data.img', cow: 'data.cow' }],
    });
    const needs = kernelNeeds({ launch: l, rootfs: 'hostfs', mconsole: true });
    assert.deepEqual(
      [...new Set(options(needs))],
      [
        'CONFIG_BLK_DEV_UBD',
        'CONFIG_HOSTFS',
        'CONFIG_MCONSOLE',
        'CONFIG_NULL_CHAN',
        'CONFIG_PORT_CHAN',
        'CONFIG_PTY_CHAN',
        'CONFIG_SSL',
        'CONFIG_TTY_CHAN',
        'CONFIG_UML_NET',
        'CONFIG_UML_NET_TUNTAP',
        'CONFIG_UML_NET_VECTOR',
        'CONFIG_XTERM_CHAN',
      ],
    );
    assert.equal(needs.find((n) => n.option === 'CONFIG_HOSTFS')!.where, 'rootfs');
    assert.equal(needs.find((n) => n.option === 'CONFIG_BLK_DEV_UBD')!.where, 'launch.disks[0]');
    assert.equal(needs.find((n) => n.option === 'CONFIG_MCONSOLE')!.optional, true);
    assert.equal(needs.find((n) => n.option === 'CONFIG_UML_NET_TUNTAP')!.where, 'launch.networks[2].transport');
  });

  it('squashfs and ext2 roots', () => {
    assert.ok(options(kernelNeeds({ launch: launch({}), rootfs: 'image', fs: 'squashfs' })).includes('CONFIG_SQUASHFS'));
    const ext2 = kernelNeeds({ launch: launch({}), rootfs: 'image', fs: 'ext2' }).find((n) => n.option === 'CONFIG_EXT2_FS')!;
    assert.deepEqual(ext2.anyOf, ['CONFIG_EXT4_USE_FOR_EXT2']);
    assert.deepEqual(checkKernelConfig('CONFIG_EXT4_USE_FOR_EXT2=y\n', [ext2]), []);
  });

  it('checkKernelConfig: =y meets a need; unset, "is not set" and =m (a module for the root) do not, each named with its key', () => {
    const needs = kernelNeeds({ launch: launch({ networks: [{ device: 'vec0', transport: 'tap', ifname: 'tap0' }] }), rootfs: 'image', fs: 'squashfs' });
    const config = 'CONFIG_BLK_DEV_UBD=y\n# CONFIG_UML_NET_VECTOR is not set\nCONFIG_SQUASHFS=m\nCONFIG_NULL_CHAN=y\nCONFIG_LOCALVERSION="-x"\n';
    assert.equal(parseKernelConfig(config).get('CONFIG_LOCALVERSION'), '"-x"');
    const problems = checkKernelConfig(config, needs);
    assert.deepEqual(options(problems), ['CONFIG_SQUASHFS', 'CONFIG_UML_NET_VECTOR']);
    const vec = problems.find((p) => p.option === 'CONFIG_UML_NET_VECTOR')!;
    assert.equal(vec.got, undefined);
    assert.match(vec.message, /^CONFIG_UML_NET_VECTOR is not set, but launch\.networks\[0\]\.transport needs CONFIG_UML_NET_VECTOR=y: vector transport tap/);
    assert.match(problems.find((p) => p.option === 'CONFIG_SQUASHFS')!.message, /is m \(a module/);
  });

  it('the stock Debian kernel config meets the shipped busybox launch line', async () => {
    const { exec } = await import('../../src/host/exec.js');
    const text = (await exec('sh', ['-c', 'zcat /usr/share/doc/user-mode-linux/config.gz'])).stdout;
    assert.deepEqual(checkKernelConfig(text, kernelNeeds({ launch: launch({ networks: [{ device: 'vec0', transport: 'tap', ifname: 'tap0' }] }), rootfs: 'image', fs: 'ext4', mconsole: true })), []);
  });
});

describe('runner/kernel-check: the recipe checked against the kernel it built', () => {
  let dir: TempDir;
  beforeEach(async () => {
    dir = await tempDir('umlbuild-kcheck-');
  });
  afterEach(() => dir.remove());
  const plan = {
    file: '/r/demo.yml',
    rootfs: 'image' as const,
    steps: [],
    launch: launch({ networks: [{ device: 'vec0', transport: 'tap', ifname: 'tap0' }] }),
  };

  it('an unmet need is a recipe error (exit 2) naming the launch key and the option; checked once per kernel', async () => {
    const r = kernelConfigIssues(plan, 'CONFIG_BLK_DEV_UBD=y\nCONFIG_NULL_CHAN=y\n', '/k/config');
    assert.deepEqual(
      r.issues.map((i) => [i.path, i.message.split(':')[0]]),
      [['launch.networks[0].transport', 'CONFIG_UML_NET_VECTOR is not set, but launch.networks[0].transport needs CONFIG_UML_NET_VECTOR=y']],
    );
    await mkdir(join(dir.path, 'k'));
    await writeFile(join(dir.path, 'k', 'config'), 'CONFIG_BLK_DEV_UBD=y\n');
    const k: BuiltKernel = { key: 'k1', dir: join(dir.path, 'k'), release: '6.1.0', sha256: 'a'.repeat(64), configSha256: 'b'.repeat(64), modules: false };
    const checked = new Set<string>();
    const e = await rejection<RecipeError>(checkBuiltKernel(plan as never, k, checked, 'steps[0] kernel'));
    assert.ok(e instanceof RecipeError);
    assert.equal(e.exitCode, 2);
    assert.match(e.message, /^\/r\/demo\.yml: launch\.networks\[0\]\.transport: CONFIG_UML_NET_VECTOR is not set.*that steps\[0\] kernel built\)$/m);
    assert.match(e.message, /CONFIG_NULL_CHAN/);
    // Once per kernel: a second look (the fast path restored the same facts) does not read it again.
    await rm(join(dir.path, 'k', 'config'));
    await checkBuiltKernel(plan as never, k, checked, 'steps[0] kernel');
    await checkBuiltKernel(plan as never, undefined, new Set(), 'x');
  });

  it('the fast path: a base image whose kernel cache entry is gone is no hit', async () => {
    const k: BuiltKernel = { key: 'k1', dir: join(dir.path, 'entry'), release: '6.1.0', sha256: 'a'.repeat(64), configSha256: 'b'.repeat(64), modules: false };
    assert.equal(await kernelPresent(undefined), true);
    assert.equal(await kernelPresent(k), false);
    await mkdir(k.dir);
    await writeFile(join(k.dir, 'linux'), 'x');
    await symlink('/etc/hostname', join(k.dir, 'config'));
    assert.equal(await kernelPresent(k), false, 'a link is not the entry');
    await rm(join(k.dir, 'config'));
    await writeFile(join(k.dir, 'config'), 'x');
    assert.equal(await kernelPresent(k), true);
  });
});

describe('manifest: the kernel record', () => {
  const SHA = 'c'.repeat(64);
  const base = { image: { file: 'demo.img' }, launch: { script: 'demo.sh' } };

  it('the writer records file, release, sha256, config, config_sha256, system_map; modules alone as before', () => {
    const rec = kernelRecord('6.1.176', { file: 'demo.linux', sha256: SHA, config: 'demo.linux.config', configSha256: SHA, systemMap: 'demo.System.map' }, '6.1.176-x');
    assert.deepEqual(rec, { modules: '6.1.176', file: 'demo.linux', release: '6.1.176-x', sha256: SHA, config: 'demo.linux.config', config_sha256: SHA, system_map: 'demo.System.map' });
    assert.deepEqual(kernelRecord('6.1.0', undefined, undefined), { modules: '6.1.0' });
    assert.ok(imageManifestSchema.shape.kernel.safeParse(rec).success);
  });

  it('the reader accepts plain names with checksums and refuses paths, "..", a file without its sha256, a bad release', () => {
    const good = { file: 'demo.linux', release: '6.1.176', sha256: SHA, config: 'demo.linux.config', config_sha256: SHA, system_map: 'demo.System.map' };
    assert.ok(parseManifest(JSON.stringify({ ...base, kernel: good }), manifestSchema).ok);
    assert.ok(parseManifest(JSON.stringify({ ...base, kernel: { modules: '6.1.0' } }), manifestSchema).ok, 'an older manifest');
    const bad: [Record<string, unknown>, RegExp][] = [
      [{ ...good, file: '../victim' }, /kernel\.file/],
      [{ ...good, file: '/usr/bin/linux' }, /kernel\.file/],
      [{ ...good, file: '..' }, /kernel\.file/],
      [{ ...good, config: 'a/b' }, /kernel\.config/],
      [{ ...good, system_map: '../System.map' }, /kernel\.system_map/],
      [{ ...good, sha256: undefined }, /kernel\.sha256/],
      [{ ...good, sha256: 'nope' }, /kernel\.sha256/],
      [{ ...good, config_sha256: undefined }, /kernel\.config_sha256/],
      [{ ...good, release: '6.1; rm -rf /' }, /kernel\.release/],
    ];
    for (const [kernel, re] of bad) {
      const r = parseManifest(JSON.stringify({ ...base, kernel }), manifestSchema);
      assert.equal(r.ok, false, JSON.stringify(kernel));
      if (!r.ok) assert.match(r.issues.map((i) => i.path).join(' '), re);
    }
    // The stricter reader umlbuild test and boot use keeps the check.
    assert.throws(
      () => checkManifest('/out/demo.manifest.json', JSON.stringify({ ...base, launch: { script: 'demo.sh', mem: '64M' }, kernel: { ...good, file: '../victim' } })),
      (e: unknown) => e instanceof RecipeError && /kernel\.file/.test(e.message),
    );
  });
});

describe('runner/outputs: the kernel files travel with the image', () => {
  let dir: TempDir;
  let entry: string;
  let k: BuiltKernel;
  beforeEach(async () => {
    dir = await tempDir('umlbuild-kout-');
    entry = join(dir.path, 'entry');
    await mkdir(entry);
    await writeFile(join(entry, 'linux'), 'ELF kernel bytes');
    await writeFile(join(entry, 'config'), 'CONFIG_HOSTFS=y\n');
    await writeFile(join(entry, 'System.map'), '0000 T start\n');
    k = { key: 'k', dir: entry, release: '6.1.176-t', sha256: sha256Text('ELF kernel bytes'), configSha256: sha256Text('CONFIG_HOSTFS=y\n'), modules: false };
  });
  afterEach(() => dir.remove());

  it('names them beside the image; staged under partial names, renamed with the rest; a planted link is replaced, its victim untouched', async () => {
    const out = join(dir.path, 'out');
    const final = outputPaths(out, 'demo');
    assert.equal(final.kernel, join(out, 'demo.linux'));
    assert.equal(final.kernelConfig, join(out, 'demo.linux.config'));
    assert.equal(final.systemMap, join(out, 'demo.System.map'));
    const partial = partialPaths(final);
    await prepareOutputDir(final);
    await writeFile(partial.image, 'image');
    const victim = await dir.write('victim', 'stand-in victim');
    await symlink(victim, final.kernel);
    await symlink(victim, partial.kernelConfig).then(() => rm(partial.kernelConfig));
    const staged = await stageKernelFiles(k, partial, final);
    assert.deepEqual(staged, { file: 'demo.linux', sha256: k.sha256, config: 'demo.linux.config', configSha256: k.configSha256, systemMap: 'demo.System.map' });
    assert.equal(existsSync(final.kernelConfig), false, 'nothing under the final names before the commit');
    await commitOutputs(partial, final, '#!/bin/sh\n', '{}\n', false, undefined, staged);
    assert.deepEqual((await readdir(out)).sort(), ['demo.System.map', 'demo.img', 'demo.linux', 'demo.linux.config', 'demo.manifest.json', 'demo.sh']);
    const st = await lstat(final.kernel);
    assert.ok(st.isFile());
    assert.equal(st.mode & 0o777, 0o755);
    assert.equal(await readFile(final.kernel, 'utf8'), 'ELF kernel bytes');
    assert.equal(await readFile(victim, 'utf8'), 'stand-in victim');
    // The next build has no kernel step: the old kernel files go, as an old block map does.
    await writeFile(partial.image, 'image 2');
    await commitOutputs(partial, final, '#!/bin/sh\n', '{}\n');
    assert.deepEqual((await readdir(out)).sort(), ['demo.img', 'demo.manifest.json', 'demo.sh']);
  });

  it('a cache entry whose linux is a link, or whose bytes are not the recorded ones, is refused', async () => {
    const final = outputPaths(join(dir.path, 'out'), 'demo');
    await prepareOutputDir(final);
    const victim = await dir.write('victim', 'stand-in victim');
    await rm(join(entry, 'linux'));
    await symlink(victim, join(entry, 'linux'));
    const e = await rejection<UserError>(stageKernelFiles(k, partialPaths(final), final));
    assert.match(e.message, /is a symbolic link, not a regular file: refused/);
    await rm(join(entry, 'linux'));
    await writeFile(join(entry, 'linux'), 'other bytes');
    await rm(partialPaths(final).kernel, { force: true });
    assert.match((await rejection<UserError>(stageKernelFiles(k, partialPaths(final), final))).message, /is not the one the build made/);
  });
});

describe("the launch script and the boot checks with the image's own kernel", () => {
  it('runs "$here/<name>.linux" (overridable with UML_LINUX), linux from PATH without one', async () => {
    const l = launch({});
    const own = await renderLaunchScript({ name: 'demo', image: '/out/demo.img', umid: 'demo', launch: l, kernel: 'demo.linux' });
    assert.match(own, /^UML_LINUX=\$\{UML_LINUX:-"\$here"\/demo\.linux\}$/m);
    assert.match(own, /the image's own kernel is missing/);
    const stock = await renderLaunchScript({ name: 'demo', image: '/out/demo.img', umid: 'demo', launch: l });
    assert.match(stock, /^UML_LINUX=\$\{UML_LINUX:-linux\}$/m);
    assert.doesNotMatch(stock, /\/dev\/fd\/5/);
  });

  it("--kernel PATH: its config is PATH.config or the build tree's .config; unmet needs refuse the boot with each named", async () => {
    const d = await tempDir('umlbuild-kopt-');
    try {
      const tree = join(d.path, 'tree');
      await mkdir(tree);
      await writeFile(join(tree, 'linux'), 'k');
      assert.equal(await configBeside(join(tree, 'linux')), undefined);
      await writeFile(join(tree, '.config'), 'CONFIG_BLK_DEV_UBD=y\nCONFIG_EXT4_FS=y\n');
      const found = (await configBeside(join(tree, 'linux')))!;
      assert.equal(found.file, join(tree, '.config'));
      await writeFile(join(tree, 'linux.config'), 'CONFIG_BLK_DEV_UBD=y\n');
      assert.equal((await configBeside(join(tree, 'linux')))!.file, join(tree, 'linux.config'));
      const img = { fs: 'ext4' };
      const l = launch({ consoles: { con: 'fd:0,fd:1' }, networks: [{ device: 'vec0', transport: 'tap', ifname: 'tap0' }] });
      const problems = kernelProblems(img, l, found.text, true);
      const warnings: string[] = [];
      assert.throws(
        () => refuseUnmet(join(tree, 'linux'), found, problems, (w) => warnings.push(w)),
        (e: unknown) => e instanceof UserError && e.exitCode === 2 && /CONFIG_UML_NET_VECTOR is not set, but launch\.networks\[0\]\.transport/.test(e.message) && !/CONFIG_MCONSOLE/.test(e.message),
      );
      assert.match(warnings.join('\n'), /CONFIG_MCONSOLE/);
      assert.equal(refuseUnmet('linux', undefined, [], undefined), 'config unknown: not checked');
      // A link planted as the config is not followed.
      await rm(join(tree, 'linux.config'));
      await symlink('/etc/shadow', join(tree, 'linux.config'));
      assert.match((await rejection<UserError>(configBeside(join(tree, 'linux')))).message, /symbolic link/);
    } finally {
      await d.remove();
    }
  });
});

describe('validation: a kernel config known before building (the knownKernelConfig trait) is checked against the launch', () => {
  const cfgSchema = z.object({ config: z.string() }).strict();
  const withConfig: Step<z.infer<typeof cfgSchema>> = {
    kind: 'known-config-kernel',
    summary: 'a kernel step given a whole config file (example)',
    schema: cfgSchema,
    traits: { knownKernelConfig: (o, ctx) => join(ctx.recipeDir, o.config) },
    title: () => 'Kernel',
    async run() {},
  };
  let dir: TempDir;
  before(() => {
    (STEPS as AnyStep[]).push(withConfig);
  });
  after(() => {
    (STEPS as AnyStep[]).splice(STEPS.indexOf(withConfig), 1);
  });
  beforeEach(async () => {
    dir = await tempDir('umlbuild-kvalid-');
  });
  afterEach(() => dir.remove());

  it('exit 2 at validation, naming the launch key and the option; a config that has it passes', async () => {
    const file = await dir.write(
      'r.yml',
      ['name: k', 'launch:', '  networks:', '    - { device: vec0, transport: tap, ifname: tap0 }', 'steps:', '  - step: directory', '  - step: known-config-kernel', '    config: kernel.config', '  - step: pack', '    size: 16M', ''].join(
        '\n',
      ),
    );
    await dir.write('kernel.config', 'CONFIG_BLK_DEV_UBD=y\nCONFIG_EXT4_FS=y\nCONFIG_NULL_CHAN=y\n');
    const e = await rejection<RecipeError>(verifyPlan(await loadRecipe(file)));
    assert.ok(e instanceof RecipeError, String(e));
    assert.equal(e.exitCode, 2);
    assert.match(e.message, /launch\.networks\[0\]\.transport: CONFIG_UML_NET_VECTOR is not set, .* \(the kernel config .*kernel\.config \(steps\[1\] known-config-kernel\)\)/);
    await dir.write('kernel.config', 'CONFIG_BLK_DEV_UBD=y\nCONFIG_EXT4_FS=y\nCONFIG_NULL_CHAN=y\nCONFIG_UML_NET_VECTOR=y\n');
    await verifyPlan(await loadRecipe(file));
  });
});
