import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { exec } from '../../src/host/exec.js';
import { loadRecipe } from '../../src/recipe/load.js';
import { noSpaceHint } from '../../src/runner/no-space.js';
import { tempDir, type TempDir } from '../helpers.js';
import { requireRootWith } from '../support/skip.js';

const SPARSE = ['name: demo', 'steps:', '  - step: sparse-disk', '    size: 64M', '  - step: mkfs', ''].join('\n');
const PACKED = ['name: demo', 'steps:', '  - step: directory', '  - step: pack', '    size: 96M', ''].join('\n');
const UNSIZED = ['name: demo', 'steps:', '  - step: directory', '  - step: pack', '    fs: tar.zst', ''].join('\n');

describe('runner/no-space: what to enlarge when a build runs out of space', () => {
  let dir: TempDir;
  beforeEach(async () => {
    dir = await tempDir('umlbuild-nospace-');
  });
  afterEach(() => dir.remove());

  it('is silent for other errors', async () => {
    const plan = await loadRecipe(await dir.write('r.yml', SPARSE));
    assert.equal(await noSpaceHint(new Error('mkfs.ext4: invalid option'), plan, join(dir.path, 'demo.img')), undefined);
  });

  it('names the sized step, its size and where it is, when the output filesystem has room', async () => {
    const file = await dir.write('r.yml', SPARSE);
    const plan = await loadRecipe(file);
    const hint = await noSpaceHint(new Error('cp: error writing x: No space left on device'), plan, join(dir.path, 'demo.img'));
    assert.equal(hint, `the image is too small for what the recipe puts in it: enlarge the size of steps[0] sparse-disk (now 64M; ${file}:3), e.g. --set size=... where the recipe has a size variable`);
    const packed = await dir.write('p.yml', PACKED);
    assert.match((await noSpaceHint('debugfs: Could not allocate block in ext2 filesystem', await loadRecipe(packed), join(dir.path, 'demo.img')))!, /enlarge the size of steps\[1\] pack \(now 96M; \S+p\.yml:4\)/);
    assert.equal(await noSpaceHint(new Error('ENOSPC'), await loadRecipe(await dir.write('u.yml', UNSIZED)), join(dir.path, 'demo.img')), 'a filesystem is full');
  });

  it('blames a full output filesystem, then a full tree filesystem, before the image size (needs root: a tiny tmpfs)', async function () {
    await requireRootWith(this, 'mount', 'umount');
    const out = join(dir.path, 'out');
    const tree = join(dir.path, 'tree');
    await mkdir(out);
    await mkdir(tree);
    const plan = await loadRecipe(await dir.write('r.yml', PACKED));
    const err = new Error('tar: write error: No space left on device');
    await exec('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'umlbuild-test', tree]);
    try {
      assert.match((await noSpaceHint(err, plan, join(out, 'demo.img'), tree))!, /^the filesystem holding the tree \(\S+tree\) is full: free space there \(for \/dev\/shm: memory\), or use tmpfs: false$/);
      assert.match((await noSpaceHint(err, plan, join(out, 'demo.img'), tree, true))!, /^the image is too small/, 'a tree that is the mounted image itself: the image');
      await exec('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'umlbuild-test', out]);
      try {
        assert.match((await noSpaceHint(err, plan, join(out, 'demo.img'), tree))!, /^the output filesystem \(\S+out\) is full \(1\.0 MiB free\): free space there or build into another --out$/);
      } finally {
        await exec('umount', [out]);
      }
    } finally {
      await exec('umount', [tree]);
    }
  });
});
