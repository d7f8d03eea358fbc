import assert from 'node:assert/strict';
import { lstat, link, mkdir, readFile, readlink, rm, symlink, writeFile, chmod } from 'node:fs/promises';
import { exec } from '../../src/host/exec.js';
import { join } from 'node:path';
import { copyTreeIntoRoot } from '../../src/edits/host-tree.js';
import { tempDir, type TempDir } from '../helpers.js';

describe('copyTreeIntoRoot', () => {
  let dir: TempDir;
  let src: string;
  let root: string;
  const ids = { uid: process.getuid!(), gid: process.getgid!() };
  beforeEach(async () => {
    dir = await tempDir();
    src = join(dir.path, 'src');
    root = join(dir.path, 'root');
    await mkdir(join(src, 'etc/motd.d'), { recursive: true });
    await mkdir(join(root, 'usr/lib'), { recursive: true });
    await symlink('usr/lib', join(root, 'lib'));
    await writeFile(join(src, 'etc/motd.d/hello'), 'hi\n');
    await chmod(join(src, 'etc/motd.d/hello'), 0o640);
    await mkdir(join(src, 'lib/extra'), { recursive: true });
    await writeFile(join(src, 'lib/extra/x'), 'x');
    await symlink('/etc/motd.d/hello', join(src, 'etc/motd'));
  });
  afterEach(() => dir.remove());

  it("copies files with modes and symlinks as links, through the image's own directory links", async () => {
    const n = await copyTreeIntoRoot(src, root, '/', ids);
    assert.equal(n, 7);
    assert.equal(await readFile(join(root, 'etc/motd.d/hello'), 'utf8'), 'hi\n');
    assert.equal((await lstat(join(root, 'etc/motd.d/hello'))).mode & 0o777, 0o640);
    assert.equal(await readlink(join(root, 'etc/motd')), '/etc/motd.d/hello');
    assert.ok((await lstat(join(root, 'lib'))).isSymbolicLink(), 'the /lib link of a merged-usr image survives');
    assert.equal(await readFile(join(root, 'usr/lib/extra/x'), 'utf8'), 'x');
  });

  it('never writes through a link that points out of the image', async () => {
    const host = join(dir.path, 'host-etc');
    await mkdir(host);
    await mkdir(join(root, 'x'));
    await symlink(host, join(root, 'etc'));
    await copyTreeIntoRoot(src, root, '/', ids);
    assert.deepEqual(await import('node:fs/promises').then((f) => f.readdir(host)), []);
    assert.equal(await readFile(join(root, host, 'motd.d/hello'), 'utf8'), 'hi\n');
  });

  it('refuses setuid files, hard links and fifos unless the recipe allows them, then copies them as they are', async () => {
    const special = join(dir.path, 'special');
    await mkdir(special);
    const cases: [string, () => Promise<void>, 'setuid' | 'hardlinks' | 'devices', RegExp][] = [
      [
        'suid',
        async () => {
          await writeFile(join(special, 'suid'), '#!/bin/sh\n');
          await chmod(join(special, 'suid'), 0o4755);
        },
        'setuid',
        /is setuid or setgid; add "allow: \[setuid\]"/,
      ],
      [
        'hard',
        async () => {
          await writeFile(join(special, 'hard'), 'same');
          await link(join(special, 'hard'), join(special, 'hard2'));
        },
        'hardlinks',
        /is a hard link \(2 names\); add "allow: \[hardlinks\]"/,
      ],
      ['fifo', () => exec('mkfifo', [join(special, 'fifo')]).then(() => undefined), 'devices', /is a device node or fifo; add "allow: \[devices\]"/],
    ];
    for (const [name, make, allow, message] of cases) {
      await rm(special, { recursive: true, force: true });
      await mkdir(special);
      await make();
      const target = join(dir.path, `root-${name}`);
      await mkdir(target);
      await assert.rejects(copyTreeIntoRoot(special, target, '/', ids), message);
      await copyTreeIntoRoot(special, target, '/', { ...ids, allow: [allow] });
      const st = await lstat(join(target, name));
      if (allow === 'setuid') assert.equal(st.mode & 0o7777, 0o4755);
      if (allow === 'hardlinks') assert.equal(st.ino, (await lstat(join(target, 'hard2'))).ino, 'one inode, two names');
      if (allow === 'devices') assert.ok(st.isFIFO());
    }
  });
});
