/**
 * End to end, as root, for real: build recipes/bookworm.yml once with the CLI,
 * inspect the image, and boot it under the UML kernel on a throw-away COW layer.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chown, readFile, rm, stat, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { exec, type ExecResult } from '../../src/host/exec.js';
import { sha256File } from '../../src/host/hashing.js';
import { loadRecipe } from '../../src/recipe/load.js';
import { bootProbe } from '../../src/uml/probe.js';
import { FAST_BOOT_ARGS } from '../../src/launch/schema.js';
import { guestUser } from '../../src/uml/guest.js';
import { readCowHeader } from '../../src/uml/cow.js';
import { BIN, PROJECT, tempDir, type TempDir } from '../helpers.js';
import { watchCmdlines, loopsFor, requireRootWith, umlbuildMounts } from './host-state.js';
import { umlbuildInPty } from './pty.js';
import { networkRun } from './network.js';
import { UmlConsole } from '../../src/uml/console.js';

/** An address from the documentation range, used only inside network namespaces the tests create. */
const GUEST = '192.0.2.2';
const VARIANTS = ['web1', 'web2', 'db1'];

const debugfsCat = async (image: string, path: string) => (await exec('debugfs', ['-R', `cat ${path}`, image])).stdout;

describe('bookworm recipe, built and booted for real', function () {
  this.timeout(15 * 60 * 1000);
  let dir: TempDir;
  let build: ExecResult;
  let cmdlines: { samples: number; hits: string[] } = { samples: 0, hits: [] };
  let image: string;
  const password = `pw-${randomBytes(6).toString('hex')}`;
  const packages = 'systemd-sysv,udev,kmod,ifupdown,isc-dhcp-client,iproute2,netbase,procps,iputils-ping';
  const vars = { hostname: 'umltest', network: 'static', address: GUEST, netmask: '255.255.255.0', packages };

  before(async function () {
    await requireRootWith(this, 'debootstrap', 'linux');
    dir = await tempDir('umlbuild-e2e-', '/var/tmp');
    const set = Object.entries(vars).flatMap(([k, v]) => ['--set', `${k}=${v}`]);
    // The shipped bookworm recipe, plus three COW variants over its image.
    const fleet = await dir.write(
      'recipe/fleet.yml',
      [
        'name: bookworm',
        `extends: ${join(PROJECT, 'recipes/bookworm.yml')}`,
        'variants:',
        ...VARIANTS.map((v) => `  - { name: ${v}, variables: { hostname: ${v} } }`),
        '  - name: extra',
        '    variables: { hostname: extra }',
        '    steps:',
        '      - { step: run, command: "echo extra-role > /etc/role" }',
        '',
      ].join('\n'),
    );
    const watcher = watchCmdlines(password);
    // In a terminal with the default renderer (also the variants' tasks).
    const t = await umlbuildInPty(BIN, [fleet, '--out', dir.path, ...set, '--test', '--no-cache'], 14 * 60 * 1000, { env: { UMLBUILD_VAR_ROOT_PASSWORD: password } });
    build = { exitCode: t.exitCode, stdout: t.output, stderr: '' };
    cmdlines = await watcher.stop();
    image = join(dir.path, 'bookworm.img');
  });
  after(async () => {
    await dir?.remove();
  });

  it('builds successfully and reports each step', () => {
    assert.equal(build.exitCode, 0, `${build.stdout}\n${build.stderr}`);
    // Directory-first, with mmdebstrap (backend: auto, installed here): the step titles say so.
    for (const step of ['Create a tmpfs root directory', 'mmdebstrap bookworm', 'Set password for root', 'Write /etc/fstab', 'Install kernel modules', 'Tune for UML', 'Pack the tree into a 2G ext4 image']) {
      assert.match(build.stdout, new RegExp(`✔ \\[\\d+/\\d+\\] ${step}`));
    }
    assert.match(build.stdout, /^PASS: 5 of 5 checks passed; login prompt after/m, 'build --test booted the new image');
  });

  it('leaves no loop device, mount or partial file behind', async () => {
    assert.deepEqual(await loopsFor(dir.path), []);
    assert.deepEqual(await umlbuildMounts(), []);
    const { stdout } = await exec('ls', ['-A', dir.path]);
    const variantFiles = [...VARIANTS, 'extra'].flatMap((v) => [`${v}.cow`, `${v}.manifest.json`, `${v}.sh`]);
    assert.deepEqual(stdout.split('\n').sort(), ['bookworm.img', 'bookworm.img.bmap', 'bookworm.manifest.json', 'bookworm.sh', 'recipe', ...variantFiles].sort());
  });

  it('writes a sparse image whose filesystem is clean', async () => {
    const st = await stat(image);
    assert.equal(st.size, 2 * 2 ** 30);
    assert.ok(st.blocks * 512 < st.size / 2, `allocated ${st.blocks * 512} of ${st.size}`);
    const fsck = await exec('e2fsck', ['-fn', image], { reject: false });
    assert.equal(fsck.exitCode, 0, fsck.stdout + fsck.stderr);
  });

  it('has fstab, hostname, interfaces, a SHA-512 root password and the UML modules inside', async () => {
    assert.match(await debugfsCat(image, '/etc/fstab'), /^\/dev\/ubda \/ ext4 discard,errors=remount-ro 0 1$/m);
    assert.equal(await debugfsCat(image, '/etc/hostname'), 'umltest');
    assert.match(await debugfsCat(image, '/etc/network/interfaces'), new RegExp(`^auto vec0\niface vec0 inet static\n {4}address ${GUEST}$`, 'm'));
    assert.match(await debugfsCat(image, '/etc/shadow'), /^root:\$6\$[^:]+:/m);
    const version = (await exec('ls', ['/usr/lib/uml/modules'])).stdout.split('\n')[0]!;
    assert.match(await debugfsCat(image, `/usr/lib/modules/${version}/modules.dep`), /dummy\.ko/);
  });

  it('writes a manifest with sizes, checksum, packages and timings, and no secret anywhere', async () => {
    const manifest = JSON.parse(await readFile(join(dir.path, 'bookworm.manifest.json'), 'utf8'));
    const st = await stat(image);
    assert.equal(manifest.image.apparent, st.size);
    assert.equal(manifest.image.allocated, st.blocks * 512);
    // The integrity record: a block map beside the image, named with its sha256; bmaptool checks the image against it.
    assert.equal(manifest.image.bmap.sha256, await sha256File(join(dir.path, manifest.image.bmap.file)));
    assert.equal((await exec('bmaptool', ['copy', image, '/dev/null'], { reject: false })).exitCode, 0, 'bmaptool copy IMAGE /dev/null');
    assert.ok(manifest.packages.some((p: { name: string }) => p.name === 'systemd-sysv'));
    assert.match(manifest.kernel.modules, /^\d+\.\d+/);
    // One timing per planned step, in plan order (the shipped recipe's steps, whatever their number).
    const plan = await loadRecipe(join(dir.path, 'recipe/fleet.yml'), { set: vars, env: { UMLBUILD_VAR_ROOT_PASSWORD: password } });
    assert.deepEqual(
      manifest.steps.map((t: { step: string }) => t.step),
      plan.steps.map((s) => s.kind),
    );
    assert.equal(manifest.variables.root_password, '***');
    const script = await readFile(join(dir.path, 'bookworm.sh'), 'utf8');
    for (const text of [JSON.stringify(manifest), script, build.stdout, build.stderr]) assert.ok(!text.includes(password), 'the password leaked');
  });

  it('never shows the password in any process command line during the build (/proc/*/cmdline sampled every 20 ms)', async () => {
    assert.ok(cmdlines.samples > 1000, `${cmdlines.samples} command lines sampled`);
    assert.deepEqual(cmdlines.hits, []);
    // The watcher does see a secret that is in an argv.
    const w = watchCmdlines(password);
    await exec('sh', ['-c', 'sleep 0.3', password]);
    assert.equal((await w.stop()).hits.length, 1);
  });

  it('boots under UML: hostname, root on ubda, modules for uname -r, modprobe works', async () => {
    const before = await sha256File(image);
    const r = await bootProbe({
      image,
      script: [
        'mount -t proc proc /proc; mount -t sysfs sys /sys',
        'echo "UMLPROBE hostname=$(cat /etc/hostname)"',
        'echo "UMLPROBE root=$(mountpoint -d /)"',
        'echo "UMLPROBE ubda=$(cat /sys/block/ubda/dev)"',
        'echo "UMLPROBE release=$(uname -r)"',
        'test -f /lib/modules/$(uname -r)/modules.dep && echo "UMLPROBE modules=present"',
        'modprobe dummy && test -d /sys/module/dummy && echo "UMLPROBE modprobe=ok"',
      ].join('\n'),
    });
    assert.equal(r.values.hostname, 'umltest', r.output.slice(-3000));
    assert.equal(r.values.root, r.values.ubda);
    assert.equal(r.values.ubda, '98:0');
    assert.equal(r.values.modules, 'present');
    assert.equal(r.values.modprobe, 'ok');
    const manifest = JSON.parse(await readFile(join(dir.path, 'bookworm.manifest.json'), 'utf8'));
    assert.equal(r.values.release, manifest.kernel.modules);
    assert.equal(await sha256File(image), before, 'booting on a COW layer left the image untouched');
  });

  const umlTest = (...args: string[]) => exec(BIN, ['test', dir.path, ...args], { reject: false, env: { UMLBUILD_VAR_ROOT_PASSWORD: password } });

  it('umlbuild test logs in and passes its checks, with the boot times', async () => {
    const r = await umlTest('--expect', 'uname -r=^\\d+\\.\\d+');
    assert.equal(r.exitCode, 0, r.stdout + r.stderr);
    for (const check of ['login', 'hostname', 'root', 'modules', 'netdev', 'expect uname -r']) assert.match(r.stdout, new RegExp(`^ {2}ok {3}${check}: `, 'm'));
    assert.match(r.stdout, /^PASS: 6 of 6 checks passed; login prompt after \d+\.\d s, shell after \d+\.\d s$/m);
    assert.ok(!r.stdout.includes(password));
    assert.deepEqual(await umlbuildMounts(), []);
  });

  it("the tuned image boots to a running system with the fast-boot arguments, / rw with fstab's options, no failed unit (systemd-analyze in the log)", async () => {
    const fast = [...FAST_BOOT_ARGS, 'rw', 'rootflags=errors=remount-ro'];
    // UML's tap transport opens /dev/net/tun as the guest user: where the host keeps it 0600, vec0 cannot come up and
    // ifup of the static address fails (networking.service, nothing else): umlbuild test's network, not the boot.
    const tunOpen = ((await stat('/dev/net/tun')).mode & 0o006) === 0o006;
    const r = await umlTest(
      '--expect',
      `systemctl is-system-running --wait=^${tunOpen ? 'running' : 'degraded'}$`,
      '--expect',
      `systemctl list-units --failed --plain --no-legend | cut -d' ' -f1 | tr '\\n' ' '=^${tunOpen ? '' : 'networking\\.service'}\\s*$`,
      '--expect',
      `tr ' ' '\\n' </proc/cmdline | grep -cx ${fast.map((a) => `-e ${a}`).join(' ')}=^${fast.length}$`,
      '--expect',
      'grep -xE "rw|discard|errors.remount-ro" /proc/fs/ext4/ubda/options | sort | tr "\\n" " "=^discard errors.remount-ro rw\\s*$',
      '--expect',
      `ip -br addr show vec0=${GUEST.replace(/\./g, '\\.')}/24`,
      '--expect',
      'systemd-analyze; systemd-analyze critical-chain --no-pager | tail -n +4=^Startup finished in .*\\(kernel\\) \\+ .*\\(userspace\\)',
    );
    assert.equal(r.exitCode, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /^PASS: 11 of 11 checks passed/m);
  });

  it('umlbuild test fails when the password is wrong', async () => {
    const r = await umlTest('--login', 'root:not-the-password');
    assert.equal(r.exitCode, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /FAIL login: login as root was refused/);
  });

  it('umlbuild test fails when the hostname differs or an expectation does not match', async () => {
    const r = await umlTest('--hostname', 'somebody-else', '--expect', 'cat /etc/hostname=^nope$');
    assert.equal(r.exitCode, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /FAIL hostname: umltest \(expected somebody-else\)/);
    assert.match(r.stdout, /FAIL expect cat \/etc\/hostname: output does not match/);
    assert.match(r.stdout, /^FAIL: 4 of 6 checks passed/m);
  });

  it('an interrupted umlbuild test stops UML and removes its namespace and files', async () => {
    // No SIGKILL from execa after 5 s: stopping a UML caught early in its boot may take longer, and umlbuild must still end with 143.
    const child = execa(BIN, ['test', dir.path], { reject: false, all: true, env: { UMLBUILD_VAR_ROOT_PASSWORD: password }, forceKillAfterDelay: false });
    await new Promise<void>((resolve) => child.all!.on('data', (d: Buffer) => d.toString().includes('$ ip netns exec') && resolve()));
    // As soon as UML runs (it reaches the login prompt in under 2 s now: no fixed wait).
    while ((await exec('pgrep', ['-f', '^linux .*umid=bookworm-test-'], { reject: false })).exitCode !== 0) await new Promise((r) => setTimeout(r, 20));
    child.kill('SIGTERM');
    const r = await child;
    assert.equal(r.exitCode, 143, String(r.all));
    assert.match(String(r.all), /interrupted by SIGTERM/);
    assert.equal((await exec('pgrep', ['-f', 'umid=bookworm-test-'], { reject: false })).stdout, '');
    assert.doesNotMatch((await exec('ip', ['netns', 'list'])).stdout, /umlbuild-/);
  });

  it('umlbuild boot runs the launch script on a COW layer with the terminal as console', async () => {
    const cow = join(dir.path, 'boot.cow');
    const before = await sha256File(image);
    const child = execa(BIN, ['boot', dir.path, '--cow', cow, '--allow-root'], { reject: false, env: { UML_NET: 'none' }, stdin: 'pipe', stdout: 'pipe' });
    const con = new UmlConsole(child.stdout!, child.stdin!);
    assert.deepEqual(await con.login('root', password, 120), { refused: false });
    assert.equal(
      (await con.run('cat /proc/cmdline')).output.split(' ').find((a) => a.startsWith('ubd0=')),
      `ubd0=${cow},${image}`,
    );
    con.send('poweroff');
    const r = await child;
    assert.equal(r.exitCode, 0);
    assert.ok((await stat(cow)).size > 0, 'the COW file took the writes');
    assert.equal(await sha256File(image), before, 'the image itself was not written');
    await rm(cow);
  });

  for (const transport of ['tap', 'raw'] as const) {
    it(`network over ${transport} in a private namespace: the guest pings the host and sends 4 MB over TCP`, async () => {
      const r = await networkRun(image, password, transport);
      assert.match(r.ping, /3 packets transmitted, 3 received/);
      assert.equal(r.received, 4 * 1024 * 1024);
      assert.equal(r.sentStatus, 0);
    });
  }

  describe('COW variants over the image', () => {
    let baseSha: string;
    let baseMtime: number;
    before(async () => {
      baseSha = await sha256File(image);
      baseMtime = (await stat(image)).mtimeMs;
    });

    it('are small COW files recorded in the base manifest', async () => {
      const manifest = JSON.parse(await readFile(join(dir.path, 'bookworm.manifest.json'), 'utf8'));
      assert.deepEqual(
        manifest.variants.map((v: { name: string }) => v.name),
        [...VARIANTS, 'extra'],
      );
      for (const v of [...VARIANTS, 'extra']) {
        const header = await readCowHeader(join(dir.path, `${v}.cow`));
        assert.equal(header?.backingFile, image);
        const allocated = (await stat(join(dir.path, `${v}.cow`))).blocks * 512;
        assert.ok(allocated < 5 * 2 ** 20, `${v}.cow has ${allocated} bytes allocated`);
      }
      assert.match(build.stdout, /variant web1: \S+web1\.cow \([\d.]+ MiB allocated, [\d.]+ s\)/);
    });

    it('each boots with its own hostname (probe on a copy of its COW file)', async () => {
      for (const v of VARIANTS) {
        const cow = join(dir.path, `probe-${v}.cow`);
        await exec('cp', ['--sparse=always', join(dir.path, `${v}.cow`), cow]);
        const r = await bootProbe({ image, cow, script: `echo "UMLPROBE hostname=$(cat /etc/hostname)"; echo "UMLPROBE hosts=$(grep -c "^127.0.1.1[[:space:]]${v}$" /etc/hosts)"` });
        await rm(cow);
        assert.equal(r.values.hostname, v, r.output.slice(-2000));
        assert.equal(r.values.hosts, '1');
      }
    });

    it('umlbuild test logs in to a variant and sees its run step', async () => {
      const r = await exec(BIN, ['test', join(dir.path, 'extra.cow'), '--no-network', '--expect', 'cat /etc/role=^extra-role$'], { reject: false, env: { UMLBUILD_VAR_ROOT_PASSWORD: password } });
      assert.equal(r.exitCode, 0, r.stdout + r.stderr);
      assert.match(r.stdout, /ok {3}hostname: extra \(expected extra\)/);
    });

    it('merge writes a new image with the variant in it that passes e2fsck, and in-place is refused while others depend on the base', async () => {
      const merged = join(dir.path, 'merged.img');
      const r = await exec(BIN, ['merge', join(dir.path, 'web2.cow'), merged], { reject: false });
      assert.equal(r.exitCode, 0, r.stdout + r.stderr);
      assert.equal(await debugfsCat(merged, '/etc/hostname'), 'web2');
      assert.equal((await exec('e2fsck', ['-fn', merged], { reject: false })).exitCode, 0);
      await rm(merged);
      const inPlace = await exec(BIN, ['merge', '--in-place', join(dir.path, 'web1.cow')], { reject: false });
      assert.equal(inPlace.exitCode, 1);
      assert.match(inPlace.stderr, /refusing to merge web1\.cow into \S+ in place: other COW files depend on it \(db1\.cow, extra\.cow, web2\.cow\)/);
    });

    it('a rebuild refuses to replace a base that has COW children', async () => {
      const r = await exec(BIN, [join(PROJECT, 'recipes/bookworm.yml'), '--out', dir.path], { reject: false });
      assert.equal(r.exitCode, 2, r.stderr);
      assert.match(r.stderr, /refusing to replace \S+bookworm\.img: COW files depend on it \(db1\.cow, extra\.cow, web1\.cow, web2\.cow\)/);
    });

    it('left the base untouched: same checksum and mtime', async () => {
      assert.equal(await sha256File(image), baseSha);
      assert.equal((await stat(image)).mtimeMs, baseMtime);
    });

    it('verify-cow reports every child broken when the base is touched, and --fix-mtime restores it', async () => {
      const t = new Date();
      await utimes(image, t, t);
      const broken = await exec(BIN, ['verify-cow', dir.path], { reject: false });
      assert.equal(broken.exitCode, 1);
      assert.equal(broken.stdout.split('\n').filter((l) => /^BROKEN .*: mtime mismatch/.test(l)).length, 4);
      const fixed = await exec(BIN, ['verify-cow', dir.path, '--fix-mtime'], { reject: false });
      assert.equal(fixed.exitCode, 0, fixed.stdout);
      assert.match(fixed.stdout, /content matches bookworm\.manifest\.json; restored its mtime/);
      assert.equal(Math.floor((await stat(image)).mtimeMs / 1000), Math.floor(baseMtime / 1000));
    });
  });

  it('TRIM: deleting a file and fstrim in UML shrinks the image and a COW file on the host', async () => {
    const copy = join(dir.path, 'trim.img');
    const cow = join(dir.path, 'trim.cow');
    await exec('cp', ['--sparse=always', image, copy]);
    // Booted in place: UML runs as the unprivileged guest user, who must be able to write it.
    const guest = await guestUser();
    if (guest) await chown(copy, guest.uid, guest.gid);
    const allocated = async (f: string) => (await stat(f)).blocks * 512;
    const write = 'dd if=/dev/urandom of=/big bs=1M count=64 2>/dev/null; sync; echo UMLPROBE wrote=yes';
    const trim = 'rm /big; sync; echo "UMLPROBE trim=$(fstrim -v / 2>&1)"';
    for (const [file, o] of [
      [copy, { image: copy, noCow: true }],
      [cow, { image, cow }],
    ] as const) {
      assert.equal((await bootProbe({ ...o, script: write })).values.wrote, 'yes');
      const full = await allocated(file);
      const r = await bootProbe({ ...o, script: trim });
      assert.match(r.values.trim ?? '', /trimmed/, r.output.slice(-1500));
      const after = await allocated(file);
      assert.ok(full - after > 48 * 2 ** 20, `${file}: ${full} bytes allocated before fstrim, ${after} after`);
    }
    await rm(copy);
    await rm(cow);
  });
});
