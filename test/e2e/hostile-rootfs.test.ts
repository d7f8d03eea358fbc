/**
 * Root trees made by someone else (a rootfs tarball, a directory, a forged
 * bootstrap-cache entry) with links that point at a stand-in victim in the
 * test's own directory: whatever the tree holds, every write of the build
 * (our code, cp, tar, depmod, make modules_install) lands inside the tree or
 * the build stops with a clear error, and the victim stays as it was. Device
 * nodes and fifos from such a tree are refused unless the step allows them.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { dirname, join } from 'node:path';
import { exec } from '../../src/host/exec.js';
import { UML_MODULES, pickVersion } from '../../src/steps/modules.js';
import { BIN, tempDir, type TempDir } from '../helpers.js';
import { writeTar, type Member } from './crafted-tar.js';
import { requireRootWith } from './host-state.js';

describe('hostile root trees: every write of the build resolves inside the root', function () {
  this.timeout(5 * 60 * 1000);
  let dir: TempDir;
  let victim: string;
  let mods: string;
  let modsDep: string;
  let n = 0;
  /** The victim's directory. */
  const VDIR = '1.0-test';
  before(async function () {
    await requireRootWith(this, 'depmod', 'zstd', 'make');
    dir = await tempDir('umlbuild-hostile-', '/var/tmp');
    // A tiny modules tree without modules.dep: the step runs depmod. Its version is the name of the
    // victim's directory, so that depmod through a link to the victim finds a directory to write in.
    mods = join(dir.path, 'mods');
    await mkdir(join(mods, VDIR, 'kernel'), { recursive: true });
    await writeFile(join(mods, VDIR, 'modules.order'), '');
    // One with modules.dep: cp copies it.
    modsDep = join(dir.path, 'mods-dep');
    await mkdir(join(modsDep, '1.0-dep/kernel'), { recursive: true });
    await writeFile(join(modsDep, '1.0-dep/modules.order'), '');
    await writeFile(join(modsDep, '1.0-dep/modules.dep'), 'tiny deps\n');
  });
  after(() => dir?.remove());

  beforeEach(async () => {
    victim = join(dir.path, `victim-${++n}`);
    await mkdir(join(victim, VDIR), { recursive: true });
    await writeFile(join(victim, 'file'), 'victim\n');
  });
  const victimUnchanged = async () => {
    assert.equal(await readFile(join(victim, 'file'), 'utf8'), 'victim\n', 'the victim file is unchanged');
    assert.deepEqual((await readdir(victim)).sort(), [VDIR, 'file'], 'nothing was created beside the victim');
    assert.deepEqual(await readdir(join(victim, VDIR)), [], 'nothing was written into the victim directory');
  };

  /** Build `steps` (YAML lines), packed into a tar; returns the result and the archive's listing. */
  const build = async (steps: string, ...args: string[]) => {
    const name = `h${n}`;
    const recipe = await dir.write(`${name}.yml`, `name: ${name}\nsteps:\n  - step: directory\n${steps}  - step: pack\n    fs: tar\n`);
    const out = join(dir.path, `out-${name}`);
    const r = await exec(BIN, [recipe, '--out', out, '--renderer', 'simple', '--cache-dir', join(dir.path, 'cache'), ...args], { reject: false });
    const tar = join(out, `${name}.tar`);
    const listing = existsSync(tar) ? (await exec('tar', ['-tvf', tar])).stdout : '';
    return { ...r, out, listing, log: `${r.stdout}\n${r.stderr}` };
  };
  const tree = async (make: (root: string) => Promise<void>) => {
    const root = join(dir.path, `tree-${n}`);
    await mkdir(join(root, 'etc'), { recursive: true });
    await make(root);
    return root;
  };

  it('modules from /usr/lib/uml/modules into a rootfs-dir tree whose modules.dep is a link to a host file: written inside the tree, the host file untouched', async () => {
    const version = (await pickVersion(UML_MODULES, 'auto'))!;
    assert.ok(version, 'the user-mode-linux package has modules');
    const src = await tree(async (root) => {
      await mkdir(join(root, 'lib/modules', version), { recursive: true });
      await symlink(join(victim, 'file'), join(root, 'lib/modules', version, 'modules.dep'));
    });
    const r = await build(`  - step: rootfs-dir\n    source: ${src}\n  - step: modules\n`);
    await victimUnchanged();
    assert.equal(r.exitCode, 0, r.log);
    assert.match(r.listing, new RegExp(`^-\\S+ 0/0 +[1-9]\\d* .* \\./lib/modules/${version.replace(/\./g, '\\.')}/modules\\.dep$`, 'm'));
  });

  const links: [string, (v: string) => [string, string]][] = [
    ['lib/modules/<ver> -> /victim/dir', (v) => ['lib/modules/1.0-test', join(v, VDIR)]],
    ['lib/modules -> /victim (depmod writes there)', (v) => ['lib/modules', v]],
    ['lib -> ../../../victim (relative, climbing)', (v) => ['lib', `../../../../../../../../..${v}`]],
  ];
  for (const [what, link] of links) {
    it(`modules with depmod into a rootfs-dir tree with ${what}: the link resolves inside the tree`, async () => {
      const [at, target] = link(victim);
      const src = await tree(async (root) => {
        await mkdir(join(root, at, '..'), { recursive: true });
        await symlink(target, join(root, at));
      });
      const r = await build(`  - step: rootfs-dir\n    source: ${src}\n  - step: modules\n    from: ${mods}\n`);
      await victimUnchanged();
      assert.equal(r.exitCode, 0, r.log);
      assert.match(r.log, /\$ depmod -b \S+ 1\.0-test$/m);
      assert.match(r.listing, /^-\S+ 0\/0 .* \.\/\S+\/modules\.dep$/m, 'modules.dep is in the packed tree');
    });
  }

  it('modules from a kernel_tree (make modules_install) into a tree whose lib/modules is a link to a host directory', async () => {
    const ktree = join(dir.path, 'ktree');
    await mkdir(ktree, { recursive: true });
    // A stand-in kernel build tree: modules_install writes under INSTALL_MOD_PATH as Kbuild's does.
    await mkdir(join(ktree, 'include', 'config'), { recursive: true });
    await writeFile(join(ktree, 'include', 'config', 'kernel.release'), '1.0-ktree\n');
    await writeFile(join(ktree, 'Makefile'), 'kernelrelease:\n\t@echo 1.0-ktree\nmodules_install:\n\tmkdir -p $(INSTALL_MOD_PATH)/lib/modules/1.0-ktree/kernel\n\techo deps > $(INSTALL_MOD_PATH)/lib/modules/1.0-ktree/modules.dep\n');
    const src = await tree(async (root) => {
      await mkdir(join(root, 'lib'));
      await symlink(victim, join(root, 'lib/modules'));
    });
    const r = await build(`  - step: rootfs-dir\n    source: ${src}\n  - step: modules\n    kernel_tree: ${ktree}\n`);
    await victimUnchanged();
    assert.equal(r.exitCode, 0, r.log);
    assert.match(r.listing, new RegExp(`\\.${victim}/1\\.0-ktree/modules\\.dep$`, 'm'));
  });

  it('modules from a kernel_tree whose Makefile writes a host file: make runs as umlbuild-build (the tree is outside input), the victim stays, the build fails naming make', async () => {
    const ktree = join(dir.path, `ktree-evil-${n}`);
    await mkdir(join(ktree, 'include', 'config'), { recursive: true });
    await writeFile(join(ktree, 'include', 'config', 'kernel.release'), '1.0-evil\n');
    // A Makefile is code: this one tries to overwrite a host file (root's, mode 0644) and to leave a file in /etc's stead.
    await writeFile(
      join(ktree, 'Makefile'),
      `kernelrelease:\n\t@echo 1.0-evil\nmodules_install:\n\techo pwned > ${join(victim, 'file')}\n\tmkdir -p $(INSTALL_MOD_PATH)/lib/modules/1.0-evil/kernel\n\techo deps > $(INSTALL_MOD_PATH)/lib/modules/1.0-evil/modules.dep\n`,
    );
    await chmod(dirname(victim), 0o755);
    await chmod(victim, 0o755);
    const src = await tree(async () => undefined);
    const r = await build(`  - step: rootfs-dir\n    source: ${src}\n  - step: modules\n    kernel_tree: ${ktree}\n`);
    await victimUnchanged();
    assert.equal(r.exitCode, 1, r.log);
    assert.match(r.log, /make -C \/run\/umlbuild-kernel\/src ARCH=um INSTALL_MOD_PATH=\/run\/umlbuild-kernel\/build modules_install/);
    assert.match(r.log, /Permission denied/);
    assert.match(r.log, /setpriv --reuid=\d+/);
    assert.ok(!existsSync(join(r.out, `h${n}.tar`)), 'no output');
  });

  it('modules from a kernel_tree whose Makefile makes lib/ a link to a host directory: refused, nothing of that directory copied into the image', async () => {
    const ktree = join(dir.path, `ktree-link-${n}`);
    await mkdir(join(ktree, 'include', 'config'), { recursive: true });
    await writeFile(join(ktree, 'include', 'config', 'kernel.release'), '1.0-test\n');
    // The victim's directory stands in for a host directory: <victim>/modules/1.0-test/secret.
    await mkdir(join(victim, 'modules', VDIR), { recursive: true });
    await writeFile(join(victim, 'modules', VDIR, 'secret'), 'host secret\n');
    await writeFile(join(ktree, 'Makefile'), `kernelrelease:\n\t@echo ${VDIR}\nmodules_install:\n\tln -s ${victim} $(INSTALL_MOD_PATH)/lib\n`);
    const src = await tree(async () => undefined);
    const r = await build(`  - step: rootfs-dir\n    source: ${src}\n  - step: modules\n    kernel_tree: ${ktree}\n`);
    assert.equal(r.exitCode, 1, r.log);
    assert.match(r.log, /make modules_install wrote no lib\/modules\/1\.0-test \(\S+\/lib is not a directory\)/);
    assert.ok(!existsSync(join(r.out, `h${n}.tar`)), 'no output');
    assert.equal(await readFile(join(victim, 'modules', VDIR, 'secret'), 'utf8'), 'host secret\n');
  });

  const depLink = (v: string): Member[] => [
    { name: './', type: 'dir' },
    { name: './lib/modules/1.0-dep/', type: 'dir' },
    { name: './lib/modules/1.0-dep/modules.dep', type: 'symlink', link: `${v}/file` },
  ];
  const modulesWrittenInside = (listing: string) => {
    assert.match(listing, /^-\S+ 0\/0 +10 .* \.\/lib\/modules\/1\.0-dep\/modules\.dep$/m, 'cp replaced the link in the tree');
  };

  it('rootfs-tarball whose modules.dep is a link to a host file, then modules: written inside the tree', async () => {
    const tarball = join(dir.path, `t${n}.tar`);
    await writeTar(tarball, depLink(victim));
    const r = await build(`  - step: rootfs-tarball\n    source: ${tarball}\n  - step: modules\n    from: ${modsDep}\n`);
    await victimUnchanged();
    assert.equal(r.exitCode, 0, r.log);
    modulesWrittenInside(r.listing);
  });

  const hostile: [string, (v: string) => Member[]][] = [
    [
      'a link to a host directory, then a member through it',
      (v) => [
        { name: 'etc', type: 'symlink', link: join(v, VDIR) },
        { name: 'etc/passwd', content: 'x' },
      ],
    ],
    [
      'a link climbing with .., then a member through it',
      (v) => [
        { name: 'etc', type: 'symlink', link: `../../../../../../../..${v}/${VDIR}` },
        { name: 'etc/passwd', content: 'x' },
      ],
    ],
    [
      'a chain of relative links ending outside',
      (v) => [
        { name: 'b', type: 'symlink', link: `${v}/${VDIR}` },
        { name: 'a', type: 'symlink', link: 'b' },
        { name: 'a/passwd', content: 'x' },
      ],
    ],
    [
      'a link to a host file, then a member of the same name',
      (v) => [
        { name: 'f', type: 'symlink', link: `${v}/file` },
        { name: 'f', content: 'x' },
      ],
    ],
    ['a hard link to an absolute host file', (v) => [{ name: 'h', type: 'hardlink', link: `${v}/file` }]],
    [
      'a hard link through a link to the host',
      (v) => [
        { name: 's', type: 'symlink', link: v },
        { name: 'h', type: 'hardlink', link: 's/file' },
      ],
    ],
    ['an absolute member name', (v) => [{ name: `${v}/${VDIR}/new`, content: 'x' }]],
    ['a member name climbing with ..', (v) => [{ name: `../../../../../../../..${v}/${VDIR}/new`, content: 'x' }]],
  ];
  for (const [what, members] of hostile) {
    it(`rootfs-tarball with ${what}: the build writes inside the tree or stops, the host is untouched`, async () => {
      const tarball = join(dir.path, `t${n}.tar`);
      await writeTar(tarball, members(victim));
      const r = await build(`  - step: rootfs-tarball\n    source: ${tarball}\n`);
      await victimUnchanged();
      if (r.exitCode !== 0) {
        assert.equal(r.exitCode, 1, r.log);
        assert.match(r.stderr, /rootfs-tarball .*failed: .*tar/s);
        assert.doesNotMatch(r.stderr, /^\s+at /m, 'no stack trace');
      }
      assert.deepEqual(
        (await readdir(r.out)).filter((f) => f.includes('.umlbuild-stage')),
        [],
      );
    });
  }

  it('a forged bootstrap-cache entry (tarball + sidecar with its sha256) whose modules.dep links to a host file: unpacked and written inside the tree', async () => {
    const cache = join(dir.path, 'cache/bootstrap');
    const steps = `  - step: debootstrap\n    suite: bookworm\n    variant: minbase\n    mirror: file://${dir.path}/no-mirror\n  - step: modules\n    from: ${modsDep}\n`;
    // A cache miss names the key; the bootstrap itself fails (no such mirror).
    const miss = await build(steps);
    assert.notEqual(miss.exitCode, 0, miss.log);
    const key = /cache miss ([0-9a-f]{32})/.exec(miss.log)?.[1];
    assert.ok(key, miss.log);
    const plain = join(dir.path, 'forged.tar');
    await writeTar(plain, depLink(victim));
    const tarball = join(cache, `${key}.tar.zst`);
    await exec('zstd', ['-q', '-f', plain, '-o', tarball]);
    const sha256 = createHash('sha256')
      .update(await readFile(tarball))
      .digest('hex');
    await writeFile(join(cache, `${key}.json`), JSON.stringify({ key, fields: {}, sha256, bytes: 1, created: new Date().toISOString() }));
    const r = await build(steps);
    await victimUnchanged();
    assert.equal(r.exitCode, 0, r.log);
    assert.match(r.log, new RegExp(`cache hit ${key}`));
    modulesWrittenInside(r.listing);
  });

  it('device nodes from a rootfs tarball are refused unless the step says allow: [devices]', async () => {
    const tarball = join(dir.path, `t${n}.tar`);
    await writeTar(tarball, [
      { name: 'dev/', type: 'dir' },
      { name: 'dev/null', type: 'char', dev: [1, 3], mode: 0o666 },
    ]);
    const refused = await build(`  - step: rootfs-tarball\n    source: ${tarball}\n`);
    assert.equal(refused.exitCode, 1, refused.log);
    assert.match(refused.stderr, /rootfs-tarball: \/dev\/null is a device node or fifo; add "allow: \[devices\]" to the rootfs-tarball step/);
    assert.doesNotMatch(refused.stderr, /^\s+at /m);
    assert.deepEqual(await readdir(refused.out).catch(() => []), [], 'no image');
    const allowed = await build(`  - step: rootfs-tarball\n    source: ${tarball}\n    allow: [devices]\n`);
    assert.equal(allowed.exitCode, 0, allowed.log);
    assert.match(allowed.listing, /^crw-rw-rw- 0\/0 +1,3 .* \.\/dev\/null$/m);
  });

  it('a fifo in a rootfs-dir tree is refused unless the step says allow: [devices]', async () => {
    const src = await tree(async (root) => {
      await exec('mkfifo', [join(root, 'etc/initctl')]);
      await chmod(join(root, 'etc/initctl'), 0o600);
    });
    const refused = await build(`  - step: rootfs-dir\n    source: ${src}\n`);
    assert.equal(refused.exitCode, 1, refused.log);
    assert.match(refused.stderr, /rootfs-dir: \/etc\/initctl is a device node or fifo; add "allow: \[devices\]"/);
    const allowed = await build(`  - step: rootfs-dir\n    source: ${src}\n    allow: [devices]\n`);
    assert.equal(allowed.exitCode, 0, allowed.log);
    assert.match(allowed.listing, /^prw------- 0\/0 .* \.\/etc\/initctl$/m);
    await rm(src, { recursive: true });
  });

  it('a command in the chroot that turns /usr/sbin into a link to a host directory: umlbuild removes its policy-rc.d inside the tree, not the host file', async () => {
    const hostPolicy = join(victim, 'policy-rc.d');
    await writeFile(hostPolicy, 'host policy\n');
    const src = await tree(async (root) => {
      await mkdir(join(root, 'bin'));
      await exec('cp', [(await exec('sh', ['-c', 'command -v busybox'])).stdout.trim(), join(root, 'bin/busybox')]);
      await symlink('busybox', join(root, 'bin/sh'));
    });
    const r = await build(`  - step: rootfs-dir\n    source: ${src}\n  - step: run\n    command: /bin/busybox rm -rf /usr/sbin && /bin/busybox ln -s ${victim} /usr/sbin\n`);
    assert.equal(await readFile(hostPolicy, 'utf8'), 'host policy\n', 'the host file behind the link is still there');
    assert.equal(r.exitCode, 0, r.log);
    assert.match(r.listing, new RegExp(`^l\\S+ 0/0 .* \\./usr/sbin -> ${victim}$`, 'm'));
    assert.doesNotMatch(r.listing, /policy-rc\.d/, 'the policy-rc.d umlbuild put in the tree is gone');
  });

  it("debootstrap after a step that filled the tree stops before bootstrapping (it would unpack packages through the tree's links)", async () => {
    const src = await tree(async (root) => {
      await mkdir(join(root, 'usr'));
      await symlink(victim, join(root, 'usr/bin'));
    });
    const r = await build(`  - step: rootfs-dir\n    source: ${src}\n  - step: debootstrap\n    suite: bookworm\n    variant: minbase\n    mirror: file://${dir.path}/no-mirror\n`);
    await victimUnchanged();
    assert.equal(r.exitCode, 1, r.log);
    assert.match(r.stderr, /(debootstrap|mmdebstrap): the rootfs is not empty \(etc, usr\): bootstrap into an empty tree/);
    assert.doesNotMatch(r.log, /\$ (debootstrap|mmdebstrap) --/);
  });
});
