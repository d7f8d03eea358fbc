import assert from 'node:assert/strict';
import { lstat, mkdir, readFile, readlink, stat, symlink as mkSymlink, writeFile, chmod, link } from 'node:fs/promises';
import { join } from 'node:path';
import { applyTreeEdits, treeTarget } from '../../src/edits/tree.js';
import { dir, file, symlink } from '../../src/edits/model.js';
import { tempDir, type TempDir } from '../helpers.js';

describe('file edits: the tree applier', () => {
  let tmp: TempDir;
  let root: string;
  let victim: string;
  let victimDir: string;
  const owner = { uid: process.getuid!(), gid: process.getgid!() };
  beforeEach(async () => {
    tmp = await tempDir();
    root = join(tmp.path, 'root');
    victim = join(tmp.path, 'victim.txt');
    victimDir = join(tmp.path, 'victim-dir');
    await mkdir(join(root, 'usr/lib'), { recursive: true });
    await mkdir(victimDir);
    await writeFile(victim, 'victim\n');
    await chmod(victim, 0o600);
  });
  afterEach(() => tmp.remove());
  const victimUnchanged = async () => {
    assert.equal(await readFile(victim, 'utf8'), 'victim\n', 'the victim file is unchanged');
    assert.equal((await stat(victim)).mode & 0o7777, 0o600, "the victim's mode is unchanged");
    assert.equal((await stat(victim)).nlink, 1, 'no hard link to the victim');
  };

  it('makes directories, files, links, hard links and fifos with their modes and owners, parents 0755', async () => {
    const n = await applyTreeEdits(root, [
      dir('/opt/app', 0o750, owner),
      file('/opt/app/run', '#!/bin/sh\n', { mode: 0o4755, owner, link: 'replace' }),
      symlink('/opt/app/current', 'run', owner),
      { kind: 'hardlink', path: '/opt/app/run2', to: '/opt/app/run' },
      { kind: 'device', path: '/opt/app/pipe', type: 'fifo', major: 0, minor: 0, mode: 0o640, owner },
      file('/new/deep/f', 'x'),
    ]);
    assert.equal(n, 6);
    assert.equal((await lstat(join(root, 'opt'))).mode & 0o7777, 0o755, 'a missing parent is made 0755');
    assert.equal((await lstat(join(root, 'opt/app'))).mode & 0o7777, 0o750);
    assert.equal((await lstat(join(root, 'opt/app/run'))).mode & 0o7777, 0o4755, 'setuid survives the owner being set');
    assert.equal(await readlink(join(root, 'opt/app/current')), 'run');
    assert.equal((await lstat(join(root, 'opt/app/run2'))).ino, (await lstat(join(root, 'opt/app/run'))).ino);
    const fifo = await lstat(join(root, 'opt/app/pipe'));
    assert.ok(fifo.isFIFO());
    assert.equal(fifo.mode & 0o7777, 0o640);
    assert.equal(await readFile(join(root, 'new/deep/f'), 'utf8'), 'x');
  });

  it('a directory that exists keeps its mode; a non-directory in the way is an error naming it', async () => {
    await mkdir(join(root, 'srv'), { mode: 0o700 });
    await chmod(join(root, 'srv'), 0o700);
    await applyTreeEdits(root, [dir('/srv', 0o755, owner)]);
    assert.equal((await lstat(join(root, 'srv'))).mode & 0o7777, 0o700);
    await writeFile(join(root, 'blocker'), '');
    await assert.rejects(applyTreeEdits(root, [dir('/blocker')]), /\/blocker exists in the rootfs and is not a directory/);
  });

  it('never follows a link planted in the tree out of it: the victim is unchanged', async () => {
    await mkSymlink(victim, join(root, 'motd'));
    await mkSymlink(victim, join(root, 'replaced'));
    await mkSymlink(victimDir, join(root, 'etc'));
    await mkSymlink('../../..', join(root, 'usr/lib/up'));
    await applyTreeEdits(root, [
      file('/motd', 'followed\n'),
      file('/replaced', 'replaced\n', { link: 'replace', mode: 0o644 }),
      file('/etc/hostname', 'guest\n'),
      dir('/etc/sub', 0o755, owner),
      symlink('/etc/l', '/x'),
      file('/usr/lib/up/escape', 'inside\n', { link: 'replace' }),
      { kind: 'hardlink', path: '/hl', to: '/motd' },
    ]);
    await victimUnchanged();
    assert.deepEqual(await import('node:fs/promises').then((f) => f.readdir(victimDir)), [], 'nothing written into the victim directory');
    assert.equal(await readFile(join(root, victim), 'utf8'), 'followed\n', 'a followed link lands at its target inside the root');
    assert.equal(await readFile(join(root, 'replaced'), 'utf8'), 'replaced\n');
    assert.ok(!(await lstat(join(root, 'replaced'))).isSymbolicLink(), 'replace: the link itself is replaced');
    assert.equal(await readFile(join(root, victimDir, 'hostname'), 'utf8'), 'guest\n');
    assert.ok((await lstat(join(root, victimDir, 'sub'))).isDirectory());
    assert.equal(await readFile(join(root, 'escape'), 'utf8'), 'inside\n', '.. stops at the root');
    assert.ok((await lstat(join(root, 'hl'))).isSymbolicLink(), 'a hard link to a link links the link, not its target');
  });

  it('removes a link itself, not what it points at', async () => {
    await mkSymlink(victim, join(root, 'gone'));
    await mkSymlink(victimDir, join(root, 'vd'));
    await writeFile(join(victimDir, 'keep'), 'k');
    await applyTreeEdits(root, [
      { kind: 'remove', path: '/gone' },
      { kind: 'remove', path: '/vd/keep' },
    ]);
    await victimUnchanged();
    assert.equal(await readFile(join(victimDir, 'keep'), 'utf8'), 'k');
    await assert.rejects(lstat(join(root, 'gone')));
  });

  it('a hard link to a host file at the name is unlinked and the file made fresh, never written through', async () => {
    // The tree applier removes what is at the name, then creates the file fresh: a hard link to the victim is
    // unlinked, never written through.
    await link(victim, join(root, 'hard'));
    await applyTreeEdits(root, [file('/hard', 'new\n', { link: 'replace' })]);
    assert.equal(await readFile(victim, 'utf8'), 'victim\n');
    assert.equal(await readFile(join(root, 'hard'), 'utf8'), 'new\n');
  });

  it('reads the tree as a target: links followed inside it, only regular files read', async () => {
    await mkdir(join(root, 'etc'));
    await writeFile(join(root, 'etc/passwd'), 'root:x:0:0::/root:/bin/sh\n');
    await mkSymlink(victim, join(root, 'etc/shadow'));
    const t = treeTarget(root);
    assert.match((await t.readFile('/etc/passwd'))!, /^root:/);
    assert.equal(await t.readFile('/etc/shadow'), undefined, 'the link resolves inside the root, where nothing is');
    assert.equal(await t.stat('/etc/shadow'), undefined);
    assert.equal((await t.stat('/etc'))?.type, 'directory');
    assert.equal(await t.readFile('/etc'), undefined);
  });
});
