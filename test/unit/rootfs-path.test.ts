import assert from 'node:assert/strict';
import { lstat, mkdir, readdir, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readFileInRoot, removeInRoot, resolveInRoot, writeFileInRoot } from '../../src/host/rootfs-path.js';
import { exec } from '../../src/host/exec.js';
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

  it("reads only regular files inside the root: a link to a host file reads the root's own, a FIFO or a missing file gives undefined without blocking", async () => {
    await writeFile(join(root, 'etc/passwd'), 'root:x:0:0::/root:/bin/sh\n');
    await symlink(outside, join(root, 'etc/group'));
    assert.equal(await readFileInRoot(root, '/etc/group'), undefined, 'the link resolves inside the root, where there is no such file');
    await mkdir(join(root, dir.path), { recursive: true });
    await writeFile(join(root, outside), "the root's own\n");
    assert.equal((await readFileInRoot(root, '/etc/group'))?.toString(), "the root's own\n");
    await exec('mkfifo', [join(root, 'etc/shadow')]);
    assert.equal(await readFileInRoot(root, '/etc/shadow'), undefined, 'a FIFO is not read (it would block)');
    assert.equal((await readFileInRoot(root, '/etc/passwd'))?.toString(), 'root:x:0:0::/root:/bin/sh\n');
    assert.equal(await readFileInRoot(root, '/etc/missing'), undefined);
  });

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

  it('sets the time of the written file, not of a host file behind a link', async () => {
    const before = (await stat(outside)).mtimeMs;
    await symlink(outside, join(root, 'etc/.updated'));
    const t = new Date('2001-02-03T04:05:06Z');
    const host = await writeFileInRoot(root, '/etc/.updated', 'stamp\n', { time: t });
    assert.equal(host, join(root, outside));
    assert.equal((await stat(host)).mtimeMs, t.getTime());
    assert.equal((await stat(outside)).mtimeMs, before);
  });

  it('removeInRoot removes a link itself and resolves links above the path inside the root', async () => {
    const hostDir = join(dir.path, 'host-dir');
    await mkdir(hostDir);
    await writeFile(join(hostDir, 'policy-rc.d'), 'host\n');
    await symlink(join(hostDir, 'policy-rc.d'), join(root, 'etc/policy-rc.d'));
    await removeInRoot(root, '/etc/policy-rc.d');
    assert.equal(await lstat(join(root, 'etc/policy-rc.d')).catch(() => undefined), undefined);
    // usr/sbin -> /host-dir (absolute, as a command in the chroot would make it): inside the root.
    await mkdir(join(root, 'usr'), { recursive: true });
    await symlink(hostDir, join(root, 'usr/sbin'));
    await mkdir(join(root, hostDir), { recursive: true });
    await writeFile(join(root, hostDir, 'policy-rc.d'), 'guest\n');
    await removeInRoot(root, '/usr/sbin/policy-rc.d');
    assert.deepEqual(await readdir(join(root, hostDir)), []);
    assert.equal(await readFile(join(hostDir, 'policy-rc.d'), 'utf8'), 'host\n');
    await symlink('../../../../../..', join(root, 'up'));
    await assert.rejects(removeInRoot(root, '/up/..'), /refusing to remove the root/);
    assert.ok((await lstat(join(root, 'etc'))).isDirectory());
    assert.equal(await readFile(outside, 'utf8'), 'host data\n');
  });
});
