import assert from 'node:assert/strict';
import { chmod, lstat, mkdir, readdir, readFile, readlink, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { exec } from '../../src/host/exec.js';
import { UserError } from '../../src/errors.js';
import { stageIntoRoot, STAGE_PREFIX } from '../../src/host/stage-tree.js';
import { rejection, tempDir, type TempDir } from '../helpers.js';

describe('stageIntoRoot (tree writers fill a fresh directory that is moved in with paths resolved inside the root)', () => {
  let dir: TempDir;
  let root: string;
  let victim: string;
  beforeEach(async () => {
    dir = await tempDir();
    root = join(dir.path, 'root');
    victim = join(dir.path, 'victim');
    await mkdir(join(victim, 'dir'), { recursive: true });
    await writeFile(join(victim, 'file'), 'victim\n');
    await mkdir(join(root, 'usr/lib/modules/1.0'), { recursive: true });
    await symlink('usr/lib', join(root, 'lib'));
  });
  afterEach(() => dir.remove());

  const fillModules = (files: Record<string, string>) => async (staging: string) => {
    for (const [p, text] of Object.entries(files)) {
      await mkdir(join(staging, p, '..'), { recursive: true });
      await writeFile(join(staging, p), text);
    }
  };
  const victimUnchanged = async () => {
    assert.equal(await readFile(join(victim, 'file'), 'utf8'), 'victim\n');
    assert.deepEqual((await readdir(victim)).sort(), ['dir', 'file']);
    assert.deepEqual(await readdir(join(victim, 'dir')), []);
  };
  const noStaging = async () =>
    assert.deepEqual(
      (await readdir(root)).filter((n) => n.startsWith(STAGE_PREFIX)),
      [],
    );

  it('replaces a link at a destination instead of writing through it (lib/modules/1.0/modules.dep -> victim)', async () => {
    await symlink(join(victim, 'file'), join(root, 'usr/lib/modules/1.0/modules.dep'));
    await stageIntoRoot(root, fillModules({ 'lib/modules/1.0/modules.dep': 'deps\n' }), { step: 'modules' });
    await victimUnchanged();
    const dep = join(root, 'usr/lib/modules/1.0/modules.dep');
    assert.ok((await lstat(dep)).isFile());
    assert.equal(await readFile(dep, 'utf8'), 'deps\n');
    assert.ok((await lstat(join(root, 'lib'))).isSymbolicLink(), "the tree's own /lib link survives");
    await noStaging();
  });

  it('resolves a directory link in the tree inside the root (lib/modules/1.0 -> /victim/dir, absolute and ../ relative)', async () => {
    await exec('rm', ['-r', join(root, 'usr/lib/modules/1.0')]);
    await symlink(join(victim, 'dir'), join(root, 'usr/lib/modules/1.0'));
    await symlink(`../../../../../../../../..${victim}`, join(root, 'usr/lib/modules/2.0'));
    await stageIntoRoot(root, fillModules({ 'lib/modules/1.0/a.ko': 'a', 'lib/modules/2.0/dir/b.ko': 'b' }), { step: 'modules' });
    await victimUnchanged();
    assert.equal(await readFile(join(root, victim, 'dir/a.ko'), 'utf8'), 'a');
    assert.equal(await readFile(join(root, victim, 'dir/b.ko'), 'utf8'), 'b');
  });

  it('a link for the whole top directory (lib -> /victim) is followed inside the root', async () => {
    await exec('rm', [join(root, 'lib')]);
    await symlink(victim, join(root, 'lib'));
    await stageIntoRoot(root, fillModules({ 'lib/modules/1.0/modules.dep': 'deps\n' }), { step: 'modules' });
    await victimUnchanged();
    assert.equal(await readFile(join(root, victim, 'modules/1.0/modules.dep'), 'utf8'), 'deps\n');
  });

  it("gives the root the staged top directory's owner and mode when asked, and moves missing trees whole", async () => {
    await chmod(root, 0o700);
    await stageIntoRoot(
      root,
      async (s) => {
        await chmod(s, 0o755);
        await mkdir(join(s, 'etc'));
        await writeFile(join(s, 'etc/x'), 'x');
        await symlink('/etc/x', join(s, 'etc/y'));
      },
      { step: 'rootfs-tarball', topAttributes: true },
    );
    assert.equal((await lstat(root)).mode & 0o777, 0o755);
    assert.equal(await readlink(join(root, 'etc/y')), '/etc/x');
    await noStaging();
  });

  it('refuses a fifo unless devices are allowed, before anything moves, and leaves no staging directory', async () => {
    const fill = async (s: string) => {
      await mkdir(join(s, 'dev'));
      await exec('mkfifo', [join(s, 'dev/fifo')]);
      await writeFile(join(s, 'new-file'), 'x');
    };
    const err = await rejection<UserError>(stageIntoRoot(root, fill, { step: 'rootfs-dir', allow: ['setuid', 'hardlinks'] }));
    assert.ok(err instanceof UserError);
    assert.match(err.message, /^rootfs-dir: \/dev\/fifo is a device node or fifo; add "allow: \[devices\]" to the rootfs-dir step/);
    assert.deepEqual((await readdir(root)).sort(), ['lib', 'usr'], 'nothing moved into the tree');
    await stageIntoRoot(root, fill, { step: 'rootfs-dir', allow: ['devices'] });
    assert.ok((await lstat(join(root, 'dev/fifo'))).isFIFO());
    await noStaging();
  });

  it('a staged file cannot replace a directory of the tree (clear error naming it)', async () => {
    const err = await rejection<UserError>(stageIntoRoot(root, fillModules({ usr: 'x' }), { step: 'rootfs-tarball' }));
    assert.match(err.message, /^rootfs-tarball: \/usr is a directory in the rootfs/);
    await noStaging();
  });
});
