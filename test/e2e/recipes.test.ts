/**
 * Every shipped recipe: trixie and bullseye are built and booted with
 * `umlbuild build --test` (log in, hostname, root, modules, network device);
 * bookworm has its own, deeper file. buster is archived: without an archive
 * mirror it must stop at validation with a clear message.
 */
import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { exec } from '../../src/host/exec.js';
import { detectMirror } from '../../src/host/mirror.js';
import { BIN, PROJECT, tempDir, type TempDir } from '../helpers.js';
import { loopsFor, requireRootWith, umlbuildMounts } from './host-state.js';

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
      const r = await exec(BIN, [join(PROJECT, `recipes/${suite}.yml`), '--out', out, '--renderer', 'simple', '--test', '--no-cache', '--set', `hostname=${suite}-uml`], { reject: false });
      assert.equal(r.exitCode, 0, `${r.stdout.slice(-4000)}\n${r.stderr}`);
      assert.match(r.stdout, /^ {2}ok {3}hostname: .*-uml \(expected .*-uml\)$/m);
      assert.match(r.stdout, /^PASS: 5 of 5 checks passed; login prompt after [\d.]+ s/m);
      assert.deepEqual(await loopsFor(out), []);
      assert.deepEqual(await umlbuildMounts(), []);
    });
  }

  it('bookworm --variant hostfs --owner nobody: a root tree that boots with hostfs, logs in, and takes writes', async () => {
    const out = join(dir.path, 'hostfs');
    const r = await exec(BIN, [join(PROJECT, 'recipes/bookworm.yml'), '--variant', 'hostfs', '--owner', 'nobody', '--out', out, '--cache-dir', join(dir.path, 'cache'), '--renderer', 'simple', '--test', '--expect', 'echo written-inside > /root/from-guest && cat /root/from-guest=^written-inside$', '--expect', 'stat -c %u /etc/passwd=^65534$'], { reject: false });
    assert.equal(r.exitCode, 0, `${r.stdout.slice(-4000)}\n${r.stderr}`);
    assert.match(r.stdout, /^ {2}ok {3}root: \/ is \S+ hostfs \(expected hostfs\)$/m);
    assert.match(r.stdout, /^PASS: 7 of 7 checks passed/m);
    const root = join(out, 'bookworm.root');
    assert.equal(await readFile(join(root, 'root/from-guest'), 'utf8'), 'written-inside\n', 'a file written inside appears in the host tree');
    assert.match(await readFile(join(root, 'etc/fstab'), 'utf8'), /^\/dev\/root \/ hostfs defaults 0 0$/m);
    const nobody = Number((await exec('id', ['-u', 'nobody'])).stdout);
    assert.equal((await stat(join(root, 'etc/passwd'))).uid, nobody);
    const script = await readFile(join(out, 'bookworm.sh'), 'utf8');
    assert.match(script, /root=\/dev\/root rootfstype=hostfs hostfs="\$UML_ROOT" rw/);
    assert.ok(script.includes(`UML_ROOT=\${UML_ROOT:-${root}}`), 'the launch script uses the tree\'s absolute path');
    assert.match(script, /hostfs=\S+ is NOT a security boundary/);
    assert.deepEqual(await umlbuildMounts(), []);
  });

  it('bookworm-dirfirst (tmpfs tree + pack) with the same bootstrap: unpacks the cache the hostfs build filled, uses no loop device, and boots', async () => {
    const cache = join(dir.path, 'cache');
    const ls = await exec(BIN, ['cache', 'ls', '--cache-dir', cache]);
    const debs = (await exec('ls', [join(cache, 'debs')])).stdout.split('\n').filter((f) => f.endsWith('.deb'));
    assert.ok(debs.some((f) => f.startsWith('systemd_')), `downloaded .debs are kept in the cache (${debs.length} found)`);
    assert.match(ls.stdout, /^[0-9a-f]{32} +\d+ MiB .* bookworm\/minbase amd64 /m);
    const out = join(dir.path, 'warm');
    const r = await exec(BIN, [join(PROJECT, 'recipes/bookworm-dirfirst.yml'), '--out', out, '--cache-dir', cache, '--renderer', 'simple', '--test', '--no-network'], { reject: false });
    assert.equal(r.exitCode, 0, `${r.stdout.slice(-4000)}\n${r.stderr}`);
    assert.match(r.stdout, /cache hit [0-9a-f]{32} \(\d+ MiB, from [^)]+\): unpacking instead of bootstrapping/);
    assert.doesNotMatch(r.stdout, /\$ debootstrap --variant/);
    assert.doesNotMatch(r.stdout, /\$ (losetup|mount) /);
    assert.match(r.stdout, /\$ mkfs\.ext4 -F -q -d \/dev\/shm\/umlbuild-tree-/);
    assert.equal((await exec('e2fsck', ['-fn', join(out, 'bookworm-dirfirst.img')], { reject: false })).exitCode, 0);
    assert.match(r.stdout, /^PASS: 5 of 5 checks passed/m);
    const pruned = await exec(BIN, ['cache', 'prune', '--cache-dir', cache]);
    assert.match(pruned.stdout, /^removed 1 entries/);
  });

  it('buster: says it needs an archive mirror, and that a current mirror has no buster', async () => {
    const recipe = join(PROJECT, 'recipes/buster.yml');
    const none = await exec(BIN, ['validate', recipe], { reject: false });
    assert.equal(none.exitCode, 2);
    assert.match(none.stderr, /buster\.yml:\d+:\d+: variables\.mirror: variable "mirror" is required: buster is archived/);
    const mirror = await detectMirror('buster');
    assert.ok(mirror, 'this host has a Debian mirror in its apt sources');
    const current = await exec(BIN, ['validate', recipe, '--set', `mirror=${mirror}`], { reject: false });
    assert.equal(current.exitCode, 2);
    assert.match(current.stderr, /steps\[3\]\.mirror: the mirror \S+ has no suite "buster" \(HTTP 404/);
  });
});
