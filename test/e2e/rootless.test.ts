/**
 * Rootless builds: an ordinary user (made by this test, with a subordinate id
 * range) builds the README's bookworm.yml (mmdebstrap) in a user namespace, tests
 * it under UML without root, and leaves nothing behind; an image recipe that
 * mounts is refused before anything is created, naming the step.
 */
import assert from 'node:assert/strict';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { exec } from '../../src/host/exec.js';
import { PROJECT, tempDir, type TempDir } from '../helpers.js';
import { requireRootWith, umlbuildMounts } from './host-state.js';
import { ptyRun, tail } from './pty.js';

const USER = 'umlbuild-rootless';

/** Where the user runs umlbuild from: the project, or a copy when the user cannot read the clone (under /root, say). */
let project = PROJECT;
const bin = () => join(project, 'bin/umlbuild');

async function asUser(command: string) {
  return exec('su', ['-s', '/bin/sh', USER, '-c', `cd ${project} && ${command}`], { reject: false });
}

describe('rootless builds (an ordinary user, mmdebstrap in a user namespace)', function () {
  this.timeout(10 * 60 * 1000);
  let dir: TempDir;
  let created = false;
  let uid = 0;
  before(async function () {
    await requireRootWith(this, 'mmdebstrap', 'newuidmap', 'unshare', 'linux');
    if ((await exec('id', ['-u', USER], { reject: false })).exitCode !== 0) {
      await exec('useradd', ['--create-home', '--shell', '/bin/sh', USER]);
      created = true;
    }
    const has = (await exec('grep', [`^${USER}:`, '/etc/subuid', '/etc/subgid'], { reject: false })).stdout.split('\n').filter(Boolean).length;
    if (has < 2) await exec('usermod', ['--add-subuids', '400000-465535', '--add-subgids', '400000-465535', USER]);
    uid = Number((await exec('id', ['-u', USER])).stdout);
    dir = await tempDir('umlbuild-rootless-', '/var/tmp');
    await exec('chown', [USER, dir.path]);
    if ((await asUser('test -x bin/umlbuild -a -r node_modules/tsx/package.json')).exitCode !== 0) {
      project = join(dir.path, 'project');
      await exec('mkdir', [project]);
      await exec('cp', ['-a', ...['bin', 'src', 'recipes', 'node_modules', 'package.json', 'tsconfig.json'].map((f) => join(PROJECT, f)), project]);
      await exec('chmod', ['-R', 'a+rX', project]);
    }
  });
  after(async () => {
    await dir?.remove();
    if (created) await exec('userdel', ['--remove', USER], { reject: false });
  });

  it('doctor, as the user, reports that rootless builds work here', async () => {
    const r = await asUser(`${bin()} doctor`);
    assert.match(r.stdout, /^ok {6}rootless builds \(.*\): umlbuild-rootless: uid 0 = \d+, 1-65535 = \d+-\d+$/m, r.stdout);
  });

  it('an image recipe that mounts is refused before anything is created, naming the steps that need root', async () => {
    const out = join(dir.path, 'refused');
    const r = await asUser(`${bin()} recipes/bookworm-howto.yml --out ${out} --set backend=debootstrap`);
    assert.equal(r.exitCode, 3, r.stderr);
    assert.match(r.stderr, /this build must run as root:\n {2}steps\[2\] mount: loop devices and mounts need root\n {2}steps\[3\] debootstrap: debootstrap creates device nodes/);
    await assert.rejects(stat(out));
  });

  it("builds the README's recipes/bookworm.yml without root (default flags: directory-first, mmdebstrap), with root-owned files and setuid bits in the image, and boots it without root", async () => {
    const out = join(dir.path, 'out');
    const before = await readdir('/dev/shm');
    // In a terminal, with the default renderer (su keeps it as the user's terminal).
    const t = await ptyRun('su', ['-s', '/bin/sh', USER, '-c', `cd ${project} && ${bin()} recipes/bookworm.yml --out ${out} --cache-dir ${join(dir.path, 'cache')} --test --no-network`], 9 * 60 * 1000, { cols: 200 });
    const r = { exitCode: t.exitCode, stdout: t.output };
    assert.equal(r.exitCode, 0, tail(r.stdout, 60));
    assert.doesNotMatch(r.stdout, /teardown: could not/);
    assert.match(r.stdout, /\$ mmdebstrap --mode=root /, 'mmdebstrap ran (as root inside the namespace)');
    assert.match(r.stdout, /^PASS: 4 of 4 checks passed, 1 not run/m);
    const image = join(out, 'bookworm.img');
    assert.equal((await stat(image)).uid, uid, 'the image belongs to the user');
    const shadow = (await exec('debugfs', ['-R', 'stat /etc/shadow', image])).stdout;
    assert.match(shadow, /User: +0 +Group: +42 /, '/etc/shadow is root:shadow inside the image');
    const passwd = (await exec('debugfs', ['-R', 'stat /usr/bin/passwd', image])).stdout;
    assert.match(passwd, /Mode: +04755/, 'setuid bits survive');
    assert.deepEqual(await readdir('/dev/shm'), before, 'the tmpfs tree is gone');
    assert.deepEqual(await umlbuildMounts(), []);
  });
});
