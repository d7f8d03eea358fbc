import assert from 'node:assert/strict';
import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { resolveInRoot, writeFileInRoot } from '../../src/host/rootfs-path.js';
import { tempDir, type TempDir } from '../helpers.js';

describe('paths inside a rootfs', () => {
  let dir: TempDir;
  let root: string;
  let outside: string;
  beforeEach(async () => {
    dir = await tempDir();
    root = join(dir.path, 'root');
    outside = join(dir.path, 'host-file');
    await mkdir(join(root, 'etc'), { recursive: true });
    await mkdir(join(root, 'usr/lib'), { recursive: true });
    await writeFile(outside, 'host data\n');
  });
  afterEach(() => dir.remove());

  it('follows an absolute link inside the root, not on the host', async () => {
    await symlink(outside, join(root, 'etc/hostname'));
    const host = await writeFileInRoot(root, '/etc/hostname', 'guest\n');
    assert.equal(await readFile(outside, 'utf8'), 'host data\n');
    assert.equal(host, join(root, outside));
    assert.equal(await readFile(join(root, outside), 'utf8'), 'guest\n');
  });

  it('stops .. at the root', async () => {
    await symlink('../../../../../host-file', join(root, 'etc/hosts'));
    await writeFileInRoot(root, '/etc/hosts', 'guest\n');
    assert.equal(await readFile(outside, 'utf8'), 'host data\n');
    assert.equal(await readFile(join(root, 'host-file'), 'utf8'), 'guest\n');
    assert.equal(await resolveInRoot(root, '/../../etc/../..'), root);
  });

  it('follows a directory link such as etc -> /etc inside the root', async () => {
    await symlink('usr/lib', join(root, 'lib'));
    assert.equal(await resolveInRoot(root, '/lib/modules/6.1'), join(root, 'usr/lib/modules/6.1'));
    await symlink('/etc', join(root, 'etc2'));
    assert.equal(await resolveInRoot(root, '/etc2/passwd'), join(root, 'etc/passwd'));
  });

  it('gives up on link loops', async () => {
    await symlink('b', join(root, 'a'));
    await symlink('a', join(root, 'b'));
    await assert.rejects(resolveInRoot(root, '/a/x'), /too many levels of symbolic links/);
  });
});
