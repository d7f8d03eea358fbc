/**
 * Integration with other build flows: the busybox recipe (not Debian, no
 * systemd), images from a rootfs tarball and a rootfs directory made
 * elsewhere (here: dumped from the busybox image), hooks with the
 * Buildroot-style environment, CI artifacts and NDJSON events. Every image is
 * booted under UML and logged in to.
 */
import assert from 'node:assert/strict';
import { chmod, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { exec } from '../../src/host/exec.js';
import { BIN, PROJECT, tempDir, type TempDir } from '../helpers.js';
import { requireRootWith } from './host-state.js';
import { leftovers, tail, umlbuildInPty } from './pty.js';

describe('integration: busybox, rootfs tarball and directory input, hooks, artifacts, ndjson', function () {
  this.timeout(10 * 60 * 1000);
  let dir: TempDir;
  let cache: string;
  let tree: string;
  const SECRET = 'hook-secret-pw';
  before(async function () {
    await requireRootWith(this, 'busybox', 'linux', 'debugfs', 'zstd');
    dir = await tempDir('umlbuild-integration-', '/var/tmp');
    cache = join(dir.path, 'cache');
  });
  after(() => dir?.remove());

  const testImage = async (target: string, ...args: string[]) => {
    const r = await exec(BIN, ['test', target, ...args], { reject: false });
    assert.equal(r.exitCode, 0, `${r.stdout}\n${r.stderr}`);
    return r.stdout;
  };

  it('recipes/busybox.yml: a static busybox with busybox init, no systemd, boots under UML and logs in (build --test, tap in a namespace)', async () => {
    const out = join(dir.path, 'busybox');
    // In a terminal with the default renderer (a directory-first recipe: its teardown logs after its task finished).
    const r = await umlbuildInPty(BIN, [join(PROJECT, 'recipes/busybox.yml'), '--out', out, '--cache-dir', cache, '--test'], 8 * 60 * 1000);
    assert.equal(r.exitCode, 0, tail(r.output, 60));
    assert.doesNotMatch(r.output, /teardown: could not/);
    assert.match(r.output, /^PASS: 5 of 5 checks passed; login prompt after/m);
    const image = join(out, 'busybox.img');
    const stat = async (p: string) => (await exec('debugfs', ['-R', `stat ${p}`, image], { reject: false })).stdout + (await exec('debugfs', ['-R', `stat ${p}`, image], { reject: false })).stderr;
    assert.match(await stat('/sbin/init'), /Type: symlink/);
    assert.match((await exec('debugfs', ['-R', 'cat /etc/inittab', image])).stdout, /::sysinit:\/etc\/init\.d\/rcS/);
    assert.match(await stat('/lib/systemd'), /File not found/);
    // Its tree is the input of the next tests.
    tree = join(dir.path, 'tree');
    await exec('mkdir', [tree]);
    await exec('debugfs', ['-R', `rdump / ${tree}`, image]);
  });

  it('an output below a directory only root may enter (0700), built and tested from there: UML runs in a directory the guest user can enter, and boots', async () => {
    const home = join(dir.path, 'private');
    await exec('mkdir', ['-m', '0700', home]);
    await exec('mkdir', [join(home, 'work')]);
    // The working directory is inside it, as after `cd $(mktemp -d)`: UML used to inherit it and could not make its COW file there.
    const r = await exec(BIN, [join(PROJECT, 'recipes/busybox.yml'), '--out', 'out', '--cache-dir', cache, '--renderer', 'simple', '--test', '--no-network'], { cwd: join(home, 'work'), reject: false });
    assert.equal(r.exitCode, 0, `${r.stdout.slice(-3000)}\n${r.stderr}`);
    assert.match(r.stdout, /^PASS: \d+ of \d+ checks passed/m);
  });

  it('recipes/from-tarball.yml: an image from a tar.zst of that tree boots and logs in', async () => {
    const tarball = join(dir.path, 'rootfs.tar.zst');
    await exec('tar', ['--zstd', '--numeric-owner', '-cf', tarball, '-C', tree, '.']);
    const out = join(dir.path, 'from-tarball');
    const r = await umlbuildInPty(BIN, [join(PROJECT, 'recipes/from-tarball.yml'), '--out', out, '--cache-dir', cache, '--set', `rootfs=${tarball}`, '--set', 'hostname=from-tar', '--set', 'root_password=tar-pw-123'], 5 * 60 * 1000);
    assert.equal(r.exitCode, 0, tail(r.output, 60));
    assert.match(r.output, /\$ tar --zstd --numeric-owner .* -xf \S+rootfs\.tar\.zst/);
    const t = await testImage(join(out, 'from-tar.img'), '--no-network', '--login', 'root:tar-pw-123');
    assert.match(t, /^ {2}ok {3}hostname: from-tar \(expected from-tar\)$/m);
  });

  it('recipes/from-dir.yml with --hook before-pack and after-image, --artifacts and --json: hooks see the Buildroot environment, events parse and hold no secret, SHA256SUMS checks', async () => {
    const hookOut = join(dir.path, 'after-image.env');
    const before = await dir.write('hooks/before-pack.sh', '#!/bin/sh\nset -e\nenv | grep -E "^(TARGET_DIR|BINARIES_DIR|BUILD_DIR|UMLBUILD_)" | sort > "$TARGET_DIR/hook-env"\ntest -d "$BUILD_DIR"\necho "hook ran in $TARGET_DIR"\n');
    const afterImage = await dir.write('hooks/after-image.sh', `#!/bin/sh\nset -e\ntest -f "$UMLBUILD_IMAGE"\nenv | grep -E "^(BINARIES_DIR|UMLBUILD_)" | sort > ${hookOut}\n`);
    await chmod(before, 0o755);
    await chmod(afterImage, 0o755);
    const out = join(dir.path, 'from-dir');
    const art = join(dir.path, 'artifacts');
    const r = await exec(
      BIN,
      [
        join(PROJECT, 'recipes/from-dir.yml'),
        '--out',
        out,
        '--cache-dir',
        cache,
        '--set',
        `rootfs=${tree}`,
        '--set',
        'hostname=from-dir',
        '--hook',
        `before-pack=${before}`,
        '--hook',
        `after-image=${afterImage}`,
        '--artifacts',
        art,
        '--json',
      ],
      { reject: false, env: { UMLBUILD_VAR_ROOT_PASSWORD: SECRET } },
    );
    assert.equal(r.exitCode, 0, `${r.stdout.slice(-4000)}\n${r.stderr}`);
    const events = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string; time: string; kind?: string; line?: string; files?: string[] });
    const types = new Set(events.map((e) => e.type));
    for (const t of ['build-started', 'step-started', 'command', 'output', 'step-finished', 'build-finished', 'artifacts']) assert.ok(types.has(t), `an event of type ${t}`);
    assert.ok(events.every((e) => !Number.isNaN(Date.parse(e.time))));
    assert.ok(
      events.some((e) => e.type === 'output' && /^hook ran in \/dev\/shm\/umlbuild-tree-/.test(e.line ?? '')),
      "the hook's output is in the events",
    );
    assert.doesNotMatch(r.stdout + r.stderr, new RegExp(SECRET), 'no secret in the events');
    const hookEnv = (await exec('debugfs', ['-R', 'cat /hook-env', join(out, 'from-dir.img')])).stdout;
    assert.match(hookEnv, /^TARGET_DIR=\/dev\/shm\/umlbuild-tree-\S+$/m);
    assert.match(hookEnv, new RegExp(`^BINARIES_DIR=${out}$`, 'm'));
    assert.match(hookEnv, /^BUILD_DIR=\/\S+umlbuild-hook-\S+$/m);
    assert.match(hookEnv, /^UMLBUILD_STAGE=before-pack$/m);
    assert.match(hookEnv, /^UMLBUILD_VAR_HOSTNAME=from-dir$/m);
    assert.match(hookEnv, /^UMLBUILD_RECIPE=\S+\/recipes\/from-dir\.yml$/m);
    assert.match(await readFile(hookOut, 'utf8'), new RegExp(`^UMLBUILD_IMAGE=${join(out, 'from-dir.img')}$`, 'm'));
    assert.deepEqual((await readdir(art)).sort(), ['SHA256SUMS', 'from-dir.img.bmap', 'from-dir.img.zst', 'from-dir.manifest.json', 'from-dir.sh']);
    const sums = await exec('sha256sum', ['-c', 'SHA256SUMS'], { cwd: art, reject: false });
    assert.equal(sums.exitCode, 0, sums.stdout + sums.stderr);
    const restored = join(dir.path, 'restored.img');
    await exec('zstd', ['-q', '-d', join(art, 'from-dir.img.zst'), '-o', restored]);
    assert.equal((await exec('cmp', [restored, join(out, 'from-dir.img')], { reject: false })).exitCode, 0, 'the artifact is the image');
    const t = await testImage(join(out, 'from-dir.img'), '--no-network', '--login', `root:${SECRET}`, '--expect', 'cat /hook-env | wc -l=^[1-9]');
    assert.match(t, /^PASS: 5 of 5 checks passed, 1 not run/m);
  });

  it('in a terminal: a failing hook fails the build with exit 1, naming the command, and leaves nothing; without it the same build succeeds', async () => {
    const bad = await dir.write('hooks/bad.sh', '#!/bin/sh\necho checking the tree\necho "hook says no" >&2\nexit 7\n');
    await chmod(bad, 0o755);
    const out = join(dir.path, 'failed');
    const journal = join(dir.path, 'journal');
    const env = { UMLBUILD_JOURNAL_DIR: journal };
    const args = [join(PROJECT, 'recipes/from-dir.yml'), '--out', out, '--cache-dir', cache, '--set', `rootfs=${tree}`];
    const r = await umlbuildInPty(BIN, [...args, '--hook', `after-bootstrap=${bad}`], 3 * 60 * 1000, { env });
    assert.equal(r.exitCode, 1, tail(r.output, 60));
    assert.match(r.output, /step steps\[2\] hook \(\S+from-dir\.yml:\d+\) failed: command failed \(exit code 7\): \S+bad\.sh/);
    assert.match(r.output, /\| hook says no/);
    assert.deepEqual(await readdir(out), [], 'no partial output, no lock');
    assert.deepEqual(await leftovers(r.pid, journal, dir.path), []);
    // from-dir.yml built in a terminal with the default renderer (its --json build above renders nothing).
    const ok = await umlbuildInPty(BIN, args, 3 * 60 * 1000, { env });
    assert.equal(ok.exitCode, 0, tail(ok.output, 60));
    assert.doesNotMatch(ok.output, /teardown: could not/);
    assert.deepEqual((await readdir(out)).sort(), ['uml.img', 'uml.img.bmap', 'uml.manifest.json', 'uml.sh']);
  });
});
