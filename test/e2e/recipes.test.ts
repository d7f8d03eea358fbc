/**
 * Every shipped recipe: trixie and bullseye are built and booted with
 * `umlbuild build --test` (log in, hostname, root, modules, network device);
 * bookworm has its own, deeper file. buster is archived: it takes Debian's
 * archive by default (not reachable here), and a mirror without buster stops
 * it at validation with a clear message.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exec } from '../../src/host/exec.js';
import { detectMirror } from '../../src/host/mirror.js';
import { sha256File } from '../../src/host/hashing.js';
import { BIN, PROJECT, tempDir, type TempDir } from '../helpers.js';
import { loopsFor, requireRootWith, umlbuildMounts } from './host-state.js';
import { tail, umlbuildInPty } from './pty.js';

const EPOCH = '1700000000';

/** What differs between two ext images, for the failure message: the files (content, mode, owner, size, mtime) and the differing blocks. */
async function imageDifferences(a: string, b: string, into: string): Promise<string> {
  const listing = async (image: string, tag: string) => {
    const d = join(into, tag);
    await exec('mkdir', ['-p', d]);
    await exec('debugfs', ['-R', `rdump / ${d}`, image], { reject: false });
    return d;
  };
  const [da, db] = [await listing(a, 'a'), await listing(b, 'b')];
  const meta = await exec(
    'sh',
    [
      '-c',
      `cd ${da} && find . ! -type l -printf '%p %m %U %G %s %T@\\n' | sort > ../a.txt; cd ${db} && find . ! -type l -printf '%p %m %U %G %s %T@\\n' | sort > ../b.txt; diff ../a.txt ../b.txt | head -30; diff -rq --no-dereference ${da} ${db} | head -30`,
    ],
    { reject: false },
  );
  const blocks = await exec('sh', ['-c', `cmp -l ${a} ${b} | awk '{print int(($1-1)/4096)}' | uniq -c | head -20`], { reject: false });
  return `files:\n${meta.stdout}\nblocks (count, 4 KiB block):\n${blocks.stdout}`;
}

describe('shipped recipes', function () {
  this.timeout(10 * 60 * 1000);
  let dir: TempDir;
  before(async function () {
    await requireRootWith(this, 'debootstrap', 'linux');
    dir = await tempDir('umlbuild-recipes-', '/var/tmp');
  });
  after(() => dir?.remove());

  for (const suite of ['trixie', 'bullseye']) {
    it(`${suite}: builds, boots under UML and logs in (build --test)`, async () => {
      const out = join(dir.path, suite);
      const r = await umlbuildInPty(BIN, [join(PROJECT, `recipes/${suite}.yml`), '--out', out, '--test', '--no-cache', '--set', `hostname=${suite}-uml`], 9 * 60 * 1000);
      assert.equal(r.exitCode, 0, tail(r.output, 60));
      assert.match(r.output, /^ {2}ok {3}hostname: .*-uml \(expected .*-uml\)$/m);
      assert.match(r.output, /^PASS: 5 of 5 checks passed; login prompt after [\d.]+ s/m);
      assert.deepEqual(await loopsFor(out), []);
      assert.deepEqual(await umlbuildMounts(), []);
    });
  }

  it('bookworm --variant hostfs --owner nobody: a root tree that boots with hostfs, logs in, and takes writes', async () => {
    const out = join(dir.path, 'hostfs');
    const r = await umlbuildInPty(BIN, [join(PROJECT, 'recipes/bookworm.yml'), '--variant', 'hostfs', '--owner', 'nobody', '--out', out, '--cache-dir', join(dir.path, 'cache'), '--set', 'root_password=hostfs-pw', '--test'], 9 * 60 * 1000);
    assert.equal(r.exitCode, 0, tail(r.output, 60));
    assert.match(r.output, /^ {2}ok {3}root: \/ is \S+ hostfs \(expected hostfs\)$/m);
    assert.match(r.output, /^PASS: 5 of 5 checks passed/m, "build --test runs the recipe's checks");
    // --expect is an option of `umlbuild test` (not of build).
    const t = await exec(BIN, ['test', out, '--login', 'root:hostfs-pw', '--expect', 'echo written-inside > /root/from-guest && cat /root/from-guest=^written-inside$', '--expect', 'stat -c %u /etc/passwd=^65534$'], { reject: false });
    assert.equal(t.exitCode, 0, `${t.stdout}\n${t.stderr}`);
    assert.match(t.stdout, /^PASS: 7 of 7 checks passed/m);
    const root = join(out, 'bookworm.root');
    assert.equal(await readFile(join(root, 'root/from-guest'), 'utf8'), 'written-inside\n', 'a file written inside appears in the host tree');
    assert.match(await readFile(join(root, 'etc/fstab'), 'utf8'), /^\/dev\/root \/ hostfs defaults 0 0$/m);
    const nobody = Number((await exec('id', ['-u', 'nobody'])).stdout);
    assert.equal((await stat(join(root, 'etc/passwd'))).uid, nobody);
    const script = await readFile(join(out, 'bookworm.sh'), 'utf8');
    assert.match(script, /root=\/dev\/root rootfstype=hostfs hostfs="\$UML_ROOT" rw/);
    assert.ok(script.includes(`UML_ROOT=\${UML_ROOT:-${root}}`), "the launch script uses the tree's absolute path");
    assert.match(script, /hostfs=\S+ is NOT a security boundary/);
    assert.deepEqual(await umlbuildMounts(), []);
  });

  it('bookworm (tmpfs tree + pack) with the same bootstrap: unpacks the cache the hostfs build filled, uses no loop device, and boots', async () => {
    const cache = join(dir.path, 'cache');
    const ls = await exec(BIN, ['cache', 'ls', '--cache-dir', cache]);
    assert.match(ls.stdout, /^[0-9a-f]{32} +\d+ MiB .* bookworm\/minbase amd64 /m);
    const out = join(dir.path, 'warm');
    // In a terminal with the default renderer: the tree's teardown logs after its task finished.
    const r = await umlbuildInPty(BIN, [join(PROJECT, 'recipes/bookworm.yml'), '--out', out, '--cache-dir', cache, '--set', 'root_password=repro-pw-1', '--test', '--no-network'], 9 * 60 * 1000, {
      env: { SOURCE_DATE_EPOCH: EPOCH },
    });
    assert.equal(r.exitCode, 0, tail(r.output, 60));
    assert.doesNotMatch(r.output, /teardown: could not/);
    assert.match(r.output, /cache hit [0-9a-f]{32} \(\d+ MiB, from [^)]+\): unpacking instead of bootstrapping/);
    assert.doesNotMatch(r.output, /\$ (debootstrap|mmdebstrap) --(variant|mode)/, "no bootstrap (only the tool's --version for the cache key)");
    assert.doesNotMatch(r.output, /\$ (losetup|mount) /);
    assert.match(r.output, /\$ mkfs\.ext4 -F -q -d \/dev\/shm\/umlbuild-tree-/);
    assert.equal((await exec('e2fsck', ['-fn', join(out, 'bookworm.img')], { reject: false })).exitCode, 0);
    assert.match(r.output, /^PASS: 4 of 4 checks passed, 1 not run/m);
  });

  it("bookworm-howto (the HowTo's steps literally: sparse disk, mkfs, loop mount, bootstrap, unmount) from the same bootstrap cache: builds, boots and logs in", async () => {
    const out = join(dir.path, 'howto');
    const r = await umlbuildInPty(BIN, [join(PROJECT, 'recipes/bookworm-howto.yml'), '--out', out, '--cache-dir', join(dir.path, 'cache'), '--set', 'root_password=howto-pw', '--test', '--no-network'], 9 * 60 * 1000);
    assert.equal(r.exitCode, 0, tail(r.output, 60));
    for (const step of ['Create sparse disk', 'Make ext4 filesystem', 'Mount image', 'mmdebstrap bookworm', 'Set password for root', 'Install kernel modules', 'Tune for UML', 'Unmount image']) {
      assert.match(r.output, new RegExp(`✔ \\[\\d+/\\d+\\] ${step}`), step);
    }
    assert.match(r.output, /cache hit [0-9a-f]{32} .*: unpacking instead of bootstrapping/);
    assert.match(r.output, /^PASS: 4 of 4 checks passed, 1 not run/m);
    assert.equal((await exec('e2fsck', ['-fn', join(out, 'bookworm-howto.img')], { reject: false })).exitCode, 0);
    assert.deepEqual(await loopsFor(out), []);
    assert.deepEqual(await umlbuildMounts(), []);
  });

  it('SOURCE_DATE_EPOCH: a cold build (bootstrapping again) gives the same bytes as the warm one above, with no host leftovers', async () => {
    const out = join(dir.path, 'cold');
    const cache = join(dir.path, 'cache');
    const r = await exec(BIN, [join(PROJECT, 'recipes/bookworm.yml'), '--out', out, '--cache-dir', cache, '--refresh', '--renderer', 'simple', '--set', 'root_password=repro-pw-1'], {
      reject: false,
      env: { SOURCE_DATE_EPOCH: EPOCH },
    });
    assert.equal(r.exitCode, 0, `${r.stdout.slice(-4000)}\n${r.stderr}`);
    assert.match(r.stdout, /\$ mmdebstrap --mode=root /, 'this one bootstrapped (with mmdebstrap: backend auto, installed)');
    const warm = join(dir.path, 'warm', 'bookworm.img');
    const cold = join(out, 'bookworm.img');
    if ((await sha256File(cold)) !== (await sha256File(warm))) assert.fail(`the images differ:\n${await imageDifferences(warm, cold, join(dir.path, 'diff'))}`);
    const cat = async (path: string) => (await exec('debugfs', ['-R', `cat ${path}`, cold])).stdout;
    assert.equal(await cat('/etc/machine-id'), '', 'machine-id is left for the first boot');
    assert.equal((await exec('debugfs', ['-R', 'stat /etc/resolv.conf', cold], { reject: false })).stderr.includes('File not found'), true, 'no resolv.conf of the build host');
    const day = String(Math.floor(Number(EPOCH) / 86400));
    assert.ok(
      (await cat('/etc/shadow'))
        .split('\n')
        .filter(Boolean)
        .every((l) => l.split(':')[2] === day),
      'password ages are the epoch day',
    );
    const stat = (await exec('debugfs', ['-R', 'stat /etc/hostname', cold])).stdout;
    for (const field of ['ctime', 'atime', 'mtime', 'crtime']) assert.match(stat, new RegExp(`^ *${field}: 0x${Number(EPOCH).toString(16)}:00000000`, 'm'));
    const dumped = (await exec('dumpe2fs', ['-h', cold])).stdout;
    assert.match(dumped, /^Filesystem UUID: +([0-9a-f-]{36})$/m);
    assert.match(dumped, /^Filesystem created: +Tue Nov 14 22:13:20 2023$/m);
  });

  it('a warm build whose last steps only edit files copies a cached base image and edits it with debugfs: no bootstrap, no mkfs', async () => {
    const cache = join(dir.path, 'cache');
    const recipe = await dir.write(
      'fast.yml',
      [
        'name: fast',
        `extends: ${join(PROJECT, 'recipes/bookworm.yml')}`,
        'steps:',
        '  - step: directory',
        '    tmpfs: true',
        '  - step: debootstrap',
        '    suite: ${suite}',
        '    variant: ${variant}',
        '    include: ${packages}',
        '  - step: modules',
        '  - step: password',
        '    users: [{ user: root, password: "${root_password}" }]',
        '  - step: template',
        '    template: hostname',
        '  - step: template',
        '    template: hosts',
        '  - step: template',
        '    template: fstab',
        '  - step: template',
        '    template: interfaces',
        '  - step: overlay',
        `    source: ${join(PROJECT, 'test/fixtures/overlay-basic')}`,
        '    dest: /opt/extra',
        '  - step: pack',
        '    size: ${size}',
        '    discard: true',
        '',
      ].join('\n'),
    );
    const first = await exec(BIN, [recipe, '--out', join(dir.path, 'fast1'), '--cache-dir', cache, '--renderer', 'simple'], { reject: false });
    assert.equal(first.exitCode, 0, `${first.stdout.slice(-4000)}\n${first.stderr}`);
    assert.match(first.stdout, /cached the base image as img-[0-9a-f]{32}/);
    const out = join(dir.path, 'fast2');
    const warm = await exec(BIN, [recipe, '--out', out, '--cache-dir', cache, '--renderer', 'simple', '--set', 'hostname=fast-two', '--set', 'root_password=changed-pw', '--no-checksum'], { reject: false });
    assert.equal(warm.exitCode, 0, `${warm.stdout.slice(-4000)}\n${warm.stderr}`);
    assert.match(warm.stdout, /cache hit img-[0-9a-f]{32} from \S+: no bootstrap, no mkfs/);
    assert.doesNotMatch(warm.stdout, /\$ (debootstrap|mkfs|tar|losetup|mount|chroot) /);
    assert.match(warm.stdout, /Copy overlay .* \(debugfs\)/);
    assert.doesNotMatch(warm.stdout + warm.stderr, /changed-pw/, 'the password is never printed');
    const seconds = Number(/^built \S+ in ([\d.]+) s$/m.exec(warm.stdout)?.[1]);
    console.log(`      (warm build from the base image: ${seconds} s)`);
    const test = await exec(
      BIN,
      ['test', out, '--no-network', '--login', 'root:changed-pw', '--expect', 'cat /opt/extra/etc/motd.d/10-umlbuild=^hello from the overlay$', '--expect', 'stat -c %a:%U /opt/extra/usr/local/bin/tool=^755:root$'],
      { reject: false },
    );
    assert.equal(test.exitCode, 0, `${test.stdout}\n${test.stderr}`);
    assert.match(test.stdout, /^ {2}ok {3}hostname: fast-two \(expected fast-two\)$/m);
    assert.match(test.stdout, /^PASS: 6 of 6 checks passed, 1 not run/m);
    // lockdown: true over the same base image (the lockdown file is one more edit): modules cannot load, hostfs cannot mount.
    const locked = await dir.write('locked.yml', ['name: locked', `extends: ${recipe}`, 'lockdown: true', ''].join('\n'));
    const lockedOut = join(dir.path, 'locked');
    const lb = await exec(BIN, [locked, '--out', lockedOut, '--cache-dir', cache, '--renderer', 'simple', '--set', 'root_password=locked-pw', '--no-checksum'], { reject: false });
    assert.equal(lb.exitCode, 0, `${lb.stdout.slice(-3000)}\n${lb.stderr}`);
    assert.match(lb.stdout, /cache hit img-/);
    assert.match(await readFile(join(lockedOut, 'bookworm.sh'), 'utf8'), /hostfs=\/proc\/umlbuild-no-hostfs/);
    const lt = await exec(
      BIN,
      [
        'test',
        lockedOut,
        '--no-network',
        '--login',
        'root:locked-pw',
        '--expect',
        'cat /proc/sys/kernel/modules_disabled=^1$',
        '--expect',
        'modprobe dummy 2>&1; echo rc:$?=^rc:[1-9]',
        '--expect',
        'mkdir -p /mnt/h; mount -t hostfs none /mnt/h -o ../../etc 2>&1; echo rc:$?=^rc:[1-9]',
        '--expect',
        'ls /mnt/h | wc -l=^0$',
      ],
      { reject: false },
    );
    assert.equal(lt.exitCode, 0, `${lt.stdout}\n${lt.stderr}`);
    assert.match(lt.stdout, /^PASS: 8 of 8 checks passed, 1 not run/m);
    const ls = await exec(BIN, ['cache', 'ls', '--cache-dir', cache]);
    assert.match(ls.stdout, /^img-[0-9a-f]{32} .* base image \(directory, debootstrap, modules, tune-uml, pack\)$/m);
    // Earlier tests of this file may share the cache: count what `cache ls` lists rather than assume an order.
    const bases = ls.stdout.split('\n').filter((l) => / base image \(/.test(l)).length;
    const boots = ls.stdout.split('\n').filter((l) => /^\S+ +\d+ MiB /.test(l) && !/ base image \(/.test(l) && !/ kernel \S+ \(/.test(l)).length;
    assert.ok(bases >= 1 && boots >= 1, ls.stdout);
    const pruned = await exec(BIN, ['cache', 'prune', '--cache-dir', cache]);
    assert.match(pruned.stdout, new RegExp(`^removed ${boots} bootstrap entries, ${bases} base images and 0 kernels`));
    assert.match((await exec(BIN, ['cache', 'ls', '--cache-dir', cache])).stdout, /^no entries in /);
  });

  it("buster: takes the archive debootstrap's scripts name, and says so when that mirror has no buster", async () => {
    // This machine cannot reach Debian's archive: a stand-in scripts directory names this host's current mirror instead.
    const recipe = join(PROJECT, 'recipes/buster.yml');
    const mirror = await detectMirror('buster');
    assert.ok(mirror, 'this host has a Debian mirror in its apt sources');
    const scripts = await mkdtemp(join(tmpdir(), 'umlbuild-scripts-'));
    try {
      await writeFile(join(scripts, 'etch'), `default_mirror ${mirror}\nkeyring /usr/share/keyrings/debian-archive-removed-keys.gpg\n`);
      const env = { PATH: process.env.PATH!, UMLBUILD_TEST_DEBOOTSTRAP_SCRIPTS: scripts };
      const dflt = await exec(BIN, ['validate', recipe], { reject: false, env });
      assert.equal(dflt.exitCode, 2);
      assert.match(
        dflt.stderr,
        /steps\[1\]\.mirror: the mirror \S+ has no suite "buster" \(HTTP 404 .*\(mirror from default_mirror in \S+\/etch, debootstrap's script for archived Debian releases \(buster is archived\); --set mirror=URL gives another\)/,
      );
      const current = await exec(BIN, ['validate', recipe, '--set', `mirror=${mirror}`], { reject: false, env });
      assert.equal(current.exitCode, 2);
      assert.match(current.stderr, /steps\[1\]\.mirror: the mirror \S+ has no suite "buster" \(HTTP 404.*\(mirror from the step's mirror option\)/);
    } finally {
      await rm(scripts, { recursive: true, force: true });
    }
  });
});
