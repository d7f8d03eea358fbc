/**
 * Failing and interrupted builds, as root, with real loop devices, mounts and
 * chroot bind mounts (a busybox shell as the rootfs): nothing is left behind.
 */
import assert from 'node:assert/strict';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { exec } from '../../src/host/exec.js';
import { BIN, tempDir, type TempDir } from '../helpers.js';
import { loopsFor, requireRootWith, umlbuildMounts } from './host-state.js';

const recipe = (last: string) => `name: tiny
steps:
  - step: sparse-disk
    size: 64M
  - step: mkfs
  - step: mount
  - step: run
    chroot: false
    command: mkdir -p "$ROOTFS/bin" && cp "$(command -v busybox)" "$ROOTFS/bin/sh"
  - step: run
    command: ${last}
`;

describe('failing and interrupted builds leave nothing behind', function () {
  this.timeout(120000);
  let dir: TempDir;
  before(async function () {
    await requireRootWith(this, 'busybox');
  });
  beforeEach(async () => {
    dir = await tempDir('umlbuild-fail-', '/var/tmp');
  });
  afterEach(() => dir?.remove());

  const noLeftovers = async () => {
    assert.deepEqual(await loopsFor(dir.path), []);
    assert.deepEqual(await umlbuildMounts(), []);
  };

  it('a run step that exits 1 mid-build: exit 1, the failing command named, no mounts, loops or output', async () => {
    const file = await dir.write('r.yml', recipe('echo about to fail >&2; exit 1'));
    const out = join(dir.path, 'out');
    const r = await exec(BIN, [file, '--out', out, '--renderer', 'simple'], { reject: false });
    assert.equal(r.exitCode, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /step steps\[4\] run \(.*r\.yml:10\) failed: command failed \(exit code 1\): chroot \S+ \/bin\/sh -c/);
    assert.match(r.stderr, /\| about to fail/);
    assert.doesNotMatch(r.stderr, /^\s+at /m);
    await noLeftovers();
    assert.deepEqual(await readdir(out), []);
  });

  it('keeps an older good image when the rebuild fails', async () => {
    const out = join(dir.path, 'out');
    const ok = await exec(BIN, [await dir.write('ok.yml', recipe('exit 0')), '--out', out, '--renderer', 'silent'], { reject: false });
    assert.equal(ok.exitCode, 0, ok.stderr);
    await writeFile(join(out, 'tiny.img'), 'older good image');
    const bad = await exec(BIN, [await dir.write('bad.yml', recipe('exit 1')), '--out', out, '--renderer', 'silent'], { reject: false });
    assert.equal(bad.exitCode, 1);
    assert.equal(await readFile(join(out, 'tiny.img'), 'utf8'), 'older good image');
    assert.deepEqual((await readdir(out)).sort(), ['tiny.img', 'tiny.manifest.json', 'tiny.sh']);
    await noLeftovers();
  });

  for (const [signal, code] of [['SIGTERM', 143], ['SIGINT', 130]] as const) {
    it(`${signal} during a chroot step unwinds everything and exits ${code}`, async () => {
      const file = await dir.write('r.yml', recipe('echo sleeping; sleep 60'));
      const out = join(dir.path, 'out');
      const child = execa(BIN, [file, '--out', out, '--renderer', 'verbose'], { reject: false, all: true });
      let seen = '';
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`never reached the sleep:\n${seen}`)), 60000);
        child.all!.on('data', (d: Buffer) => {
          seen += d.toString();
          if (seen.includes('sleeping')) {
            clearTimeout(timer);
            resolve();
          }
        });
      });
      const t0 = Date.now();
      child.kill(signal);
      const r = await child;
      assert.equal(r.exitCode, code, String(r.all));
      assert.ok(Date.now() - t0 < 20000);
      assert.match(String(r.all), new RegExp(`interrupted by ${signal}`));
      await noLeftovers();
      assert.deepEqual(await readdir(out), []);
    });
  }
});
