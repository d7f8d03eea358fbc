/**
 * README "Your own kernel", the way a person runs it: the section's first
 * block verbatim, each command in a pseudo-terminal (the default renderer),
 * as root from the clone, default flags: build recipes/busybox-kernel.yml
 * (the kernel compiled from linux-source-6.1), `umlbuild test` boots it with
 * its own kernel (uname -r ends in the README's localversion; modprobe loads
 * a module the recipe built as =m), the same build again takes the kernel
 * from the cache, and `umlbuild kernel --out` writes the kernel alone.
 * The commands run with XDG_CACHE_HOME set to the kernel suite's (the
 * default cache location a person gets from the environment): the fixture's
 * build directory and ccache make the compile incremental.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { exec } from '../../src/host/exec.js';
import { requireRootWith, skipBecause } from '../support/skip.js';
import { PROJECT } from '../helpers.js';
import { ptyRun, stripAnsi, tail } from '../e2e/pty.js';
import { KERNEL_TEST_CACHE, KERNEL_TEST_HOME } from './fixture.js';

function section(): string {
  const readme = readFileSync(join(PROJECT, 'README.md'), 'utf8');
  const start = readme.indexOf('\n## Your own kernel\n');
  assert.ok(start >= 0, 'README.md has a "Your own kernel" section');
  return readme.slice(start, readme.indexOf('\n## ', start + 5));
}

const OUTPUTS = ['busybox-kernel.img', 'busybox-kernel.img.bmap', 'busybox-kernel.sh', 'busybox-kernel.manifest.json', 'busybox-kernel.linux', 'busybox-kernel.linux.config', 'busybox-kernel.System.map'];

describe('README "Your own kernel": the commands verbatim in a pseudo-terminal', function () {
  this.timeout(60 * 60_000);
  const text = section();
  const block = /```sh\n([\s\S]*?)```/.exec(text)?.[1] ?? '';
  const commands = block
    .split('\n')
    .map((l) => l.replace(/\s+#.*$/, '').trim())
    .filter(Boolean);
  const run = async (line: string) => {
    const t0 = performance.now();
    const r = await ptyRun('sh', ['-c', line], 50 * 60_000, { cwd: PROJECT, env: { XDG_CACHE_HOME: KERNEL_TEST_HOME } });
    return { ...r, output: stripAnsi(r.output), seconds: (performance.now() - t0) / 1000 };
  };
  const out = join(PROJECT, 'out');
  const clean = async () => {
    for (const f of OUTPUTS) await rm(join(out, f), { force: true });
    await rm(join(out, 'kernel'), { recursive: true, force: true });
  };

  before(async function () {
    await requireRootWith(this, 'busybox', 'linux', 'setpriv', 'mkfs.ext4', 'ip', 'make', 'gcc', 'flex', 'bison', 'bc');
    if (!existsSync('/usr/src/linux-source-6.1.tar.xz')) skipBecause(this, 'linux-source-6.1 (apt-get install linux-source-6.1)');
    await clean();
  });
  after(clean);

  it('names the recipe build, the test, the rebuild and umlbuild kernel', () => {
    assert.deepEqual(commands, [
      'bin/umlbuild recipes/busybox-kernel.yml --out out --set localversion=-mine --set root_password=change-me',
      'UMLBUILD_TEST_PASSWORD=change-me bin/umlbuild test out/busybox-kernel.img',
      'bin/umlbuild recipes/busybox-kernel.yml --out out --set localversion=-mine --set root_password=change-me',
      'bin/umlbuild kernel --out out/kernel',
    ]);
  });

  it('builds the image with its kernel, boots it with that kernel, rebuilds from the cache, writes the kernel alone', async () => {
    const build = await run(commands[0]!);
    assert.equal(build.exitCode, 0, tail(build.output, 40));
    for (const f of OUTPUTS) assert.ok(existsSync(join(out, f)), `${f} written`);
    const manifest = JSON.parse(await readFile(join(out, 'busybox-kernel.manifest.json'), 'utf8')) as { kernel: { release: string; file: string; modules: string } };
    assert.match(manifest.kernel.release, /^6\.1\.\d+-mine$/);
    assert.equal(manifest.kernel.file, 'busybox-kernel.linux');
    assert.equal(manifest.kernel.modules, manifest.kernel.release);
    process.stderr.write(`      (README build: ${build.seconds.toFixed(1)} s)\n`);

    const test = await run(commands[1]!);
    assert.equal(test.exitCode, 0, tail(test.output, 40));
    assert.match(test.output, new RegExp(`kernel ${out}/busybox-kernel\\.linux \\(${manifest.kernel.release.replace(/\./g, '\\.')}, the image's own; config \\S+ checked\\)`));
    assert.match(test.output, new RegExp(`ok {3}expect uname -r: "${manifest.kernel.release.replace(/\./g, '\\.')}"`));
    assert.match(test.output, /ok {3}expect modprobe dummy && cat \/sys\/class\/net\/dummy0\/type: "1"/);
    assert.match(test.output, /PASS: \d+ of \d+ checks passed/);

    const kernelsBefore = (await exec('ls', [join(KERNEL_TEST_CACHE, 'kernels')])).stdout;
    const again = await run(commands[2]!);
    assert.equal(again.exitCode, 0, tail(again.output, 40));
    assert.equal((await exec('ls', [join(KERNEL_TEST_CACHE, 'kernels')])).stdout, kernelsBefore, 'no new kernel cache entry: the same one was used');
    const m2 = JSON.parse(await readFile(join(out, 'busybox-kernel.manifest.json'), 'utf8')) as { kernel: { sha256: string; release: string } };
    assert.equal(m2.kernel.release, manifest.kernel.release);
    process.stderr.write(`      (README rebuild: ${again.seconds.toFixed(1)} s)\n`);

    const alone = await run(commands[3]!);
    assert.equal(alone.exitCode, 0, tail(alone.output, 40));
    const release = /kernel (\S+): (built in|from the cache)/.exec(alone.output)?.[1];
    assert.ok(release, tail(alone.output, 20));
    assert.match(release, /^6\.1\.\d+$/, 'no localversion: the base config alone');
    for (const f of ['linux', 'linux.config', 'System.map', `lib/modules/${release}/modules.dep`]) assert.ok(existsSync(join(out, 'kernel', f)), f);
  });
});
