/**
 * After a bootstrap, apt's partial download directories belong to root
 * whatever user apt could act as while it ran (so the tree, and the cache
 * entry made from it, do not depend on where the bootstrap ran); a link
 * planted at one is left alone and its target is not touched.
 */
import assert from 'node:assert/strict';
import { chown, lstat, mkdir, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { aptDirsToRoot } from '../../src/steps/debootstrap.js';
import { tempDir, type TempDir } from '../helpers.js';

describe("bootstrap: apt's partial directories", () => {
  let dir: TempDir;
  before(async function () {
    if (process.getuid?.() !== 0) this.skip();
    dir = await tempDir('umlbuild-aptdirs-');
  });
  after(() => dir?.remove());

  it('are given to root when apt left them to _apt; a link at one is not followed', async () => {
    const root = join(dir.path, 'root');
    const archives = join(root, 'var/cache/apt/archives/partial');
    await mkdir(archives, { recursive: true, mode: 0o700 });
    await chown(archives, 42, 0);
    const victim = join(dir.path, 'victim');
    await mkdir(victim);
    await writeFile(join(victim, 'file'), 'keep');
    await chown(victim, 4242, 4242);
    await mkdir(join(root, 'var/lib/apt/lists'), { recursive: true });
    await symlink(victim, join(root, 'var/lib/apt/lists/partial'));
    await aptDirsToRoot(root);
    const a = await lstat(archives);
    assert.deepEqual([a.uid, a.gid, a.mode & 0o777], [0, 0, 0o700]);
    const v = await stat(victim);
    assert.deepEqual([v.uid, v.gid], [4242, 4242], 'the stand-in victim kept its owner');
    assert.ok((await lstat(join(root, 'var/lib/apt/lists/partial'))).isSymbolicLink());
    await aptDirsToRoot(join(dir.path, 'empty-root-that-does-not-exist'));
  });
});
