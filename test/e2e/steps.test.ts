import { existsSync } from 'node:fs';
/**
 * The file-writing steps on a real loop-mounted image (a tiny busybox rootfs):
 * overlay, built-in and custom templates, host-side run, and a hostile link in
 * the image that must not make umlbuild write on the host.
 */
import assert from 'node:assert/strict';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { exec } from '../../src/host/exec.js';
import { BIN, PROJECT, tempDir, type TempDir } from '../helpers.js';
import { loopsFor, requireRootWith, umlbuildMounts } from './host-state.js';

describe('file steps on a real image', function () {
  this.timeout(120000);
  let dir: TempDir;
  before(async function () {
    await requireRootWith(this, 'busybox');
    dir = await tempDir('umlbuild-steps-', '/var/tmp');
  });
  after(() => dir?.remove());

  it('writes overlays and templates inside the image, never through its links onto the host', async () => {
    const hostFile = join(dir.path, 'host-hostname');
    await writeFile(hostFile, 'host content\n');
    const recipe = await dir.write(
      'tiny.yml',
      `name: tiny
variables: {hostname: tiny1, network: none, netdev: vec0, address: "", netmask: "", gateway: ""}
steps:
  - step: sparse-disk
    size: 64M
  - step: mkfs
    label: tiny
  - step: mount
  - step: run
    chroot: false
    command: mkdir -p "$ROOTFS/bin" "$ROOTFS/etc" && cp "$(command -v busybox)" "$ROOTFS/bin/sh" && ln -s ${hostFile} "$ROOTFS/etc/hostname" && ln -s /etc "$ROOTFS/etc-link"
  - step: overlay
    source: ${join(PROJECT, 'test/fixtures/overlay-basic')}
  - step: template
    template: hostname
  - step: template
    template: ${join(PROJECT, 'test/fixtures/motd.ejs')}
    dest: /etc-link/motd
  - step: template
    template: interfaces
  - step: unmount
`,
    );
    const r = await exec(BIN, [recipe, '--out', dir.path, '--renderer', 'simple'], { reject: false });
    assert.equal(r.exitCode, 0, r.stdout + r.stderr);
    assert.equal(await readFile(hostFile, 'utf8'), 'host content\n', 'the host file behind the link is untouched');
    const image = join(dir.path, 'tiny.img');
    const cat = async (p: string) => (await exec('debugfs', ['-R', `cat ${p}`, image])).stdout;
    assert.equal(await cat(hostFile), 'tiny1', 'hostname was written inside the image at the link target');
    assert.equal(await cat('/etc/motd.d/10-umlbuild'), 'hello from the overlay');
    assert.equal(await cat('/etc/motd'), 'Welcome to tiny1 (ext4)');
    assert.match(await cat('/etc/network/interfaces'), /# network: none/);
    const stat = (await exec('debugfs', ['-R', 'stat /usr/local/bin/tool', image])).stdout;
    assert.match(stat, /Mode:\s+0755/);
    assert.match(stat, /User:\s+0\s+Group:\s+0/);
    assert.deepEqual(await loopsFor(dir.path), []);
    assert.deepEqual(await umlbuildMounts(), []);
  });

  it('a directory-first tree whose etc is a link to /etc and whose root is a link to /root: the build stops, and the host is untouched', async () => {
    const hostFiles = ['/etc/hostname', '/etc/hosts', '/etc/fstab', '/root'];
    const before = await Promise.all(hostFiles.map((f) => exec('stat', ['-c', '%Y %s %i', f]).then((r) => r.stdout)));
    const recipe = await dir.write(
      'hostile.yml',
      `name: hostile
variables: {hostname: hostile1}
steps:
  - step: directory
  - step: run
    chroot: false
    command: ln -s /etc "$ROOTFS/etc" && ln -s /root "$ROOTFS/root" && mkdir -p "$ROOTFS/bin"
  - step: template
    template: hostname
  - step: overlay
    source: ${join(PROJECT, 'test/fixtures/overlay-basic')}
    dest: /root
  - step: pack
    fs: tar
`,
    );
    const out = join(dir.path, 'hostile');
    const r = await exec(BIN, [recipe, '--out', out, '--renderer', 'simple'], { reject: false });
    assert.equal(r.exitCode, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /step steps\[2\] template .* failed: too many levels of symbolic links resolving \/etc\/hostname/);
    const after = await Promise.all(hostFiles.map((f) => exec('stat', ['-c', '%Y %s %i', f]).then((x) => x.stdout)));
    assert.deepEqual(after, before, 'no host file was written');
    assert.equal(existsSync('/root/etc/motd.d/10-umlbuild'), false);
    assert.deepEqual(await readdir(out), []);
    assert.deepEqual(await umlbuildMounts(), []);
  });

  for (const [fs, list] of [
    ['tar.zst', (f: string) => exec('tar', ['--zstd', '-tvf', f])],
    ['squashfs', (f: string) => exec('unsquashfs', ['-lls', f])],
  ] as const) {
    it(`directory-first into ${fs}: no loop device, the tree's files and owners inside`, async function () {
      if (fs === 'squashfs') await requireRootWith(this, 'mksquashfs', 'unsquashfs');
      const recipe = await dir.write(
        `pack-${fs}.yml`,
        `name: packed
variables: {hostname: packed1}
steps:
  - step: directory
  - step: run
    chroot: false
    command: mkdir -p "$ROOTFS/bin" && cp "$(command -v busybox)" "$ROOTFS/bin/sh"
  - step: overlay
    source: ${join(PROJECT, 'test/fixtures/overlay-basic')}
  - step: template
    template: hostname
  - step: pack
    fs: ${fs}
`,
      );
      const out = join(dir.path, `out-${fs}`);
      const r = await exec(BIN, [recipe, '--out', out, '--renderer', 'simple'], { reject: false });
      assert.equal(r.exitCode, 0, r.stdout + r.stderr);
      assert.doesNotMatch(r.stdout, /\$ (losetup|mount) /);
      const listing = (await list(join(out, `packed.${fs}`))).stdout;
      assert.match(listing, /root\/root .*usr\/local\/bin\/tool|-rwxr-xr-x 0\/0 .*usr\/local\/bin\/tool/);
      assert.match(listing, /etc\/hostname/);
      assert.match(listing, /bin\/sh/);
      const manifest = JSON.parse(await readFile(join(out, 'packed.manifest.json'), 'utf8'));
      assert.equal(manifest.image.file, `packed.${fs}`);
      assert.deepEqual(await umlbuildMounts(), []);
    });
  }
});
