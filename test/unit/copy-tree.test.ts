import assert from 'node:assert/strict';
import { lstat, mkdir, readFile, readlink, symlink, writeFile, chmod } from 'node:fs/promises';
import { join } from 'node:path';
import { copyTreeIntoRoot } from '../../src/host/copy-tree.js';
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

  it('copies files with modes and symlinks as links, through the image\'s own directory links', async () => {
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
});
