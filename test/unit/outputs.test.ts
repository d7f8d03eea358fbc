import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { lstat, mkdir, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { UserError } from '../../src/errors.js';
import { commitOutputs, outputPaths, partialPaths, prepareOutputDir, removePartials } from '../../src/runner/outputs.js';
import { tempDir, type TempDir } from '../helpers.js';

describe('runner/outputs: built under partial names, renamed only when all is done', () => {
  let dir: TempDir;
  beforeEach(async () => {
    dir = await tempDir('umlbuild-outputs-');
  });
  afterEach(() => dir.remove());

  it('names image, root, script and manifest in --out, with the pack extension; refuses a name that leaves --out', () => {
    assert.deepEqual(outputPaths('/o', 'demo'), {
      image: '/o/demo.img',
      root: '/o/demo.root',
      script: '/o/demo.sh',
      manifest: '/o/demo.manifest.json',
      bmap: '/o/demo.img.bmap',
      kernel: '/o/demo.linux',
      kernelConfig: '/o/demo.linux.config',
      systemMap: '/o/demo.System.map',
    });
    assert.equal(outputPaths('/o', 'demo', '.tar.zst').image, '/o/demo.tar.zst');
    for (const bad of ['../demo', '/etc/demo', 'a/b']) {
      assert.throws(
        () => outputPaths('/o', bad),
        (e: unknown) => e instanceof UserError && e.exitCode === 2 && e.message.includes(JSON.stringify(bad)),
      );
    }
    const p = partialPaths(outputPaths('/o', 'demo'));
    for (const v of Object.values(p)) assert.match(v, /^\/o\/\.demo\.[\w.]+\.partial-\d+-[0-9a-f]+$/);
  });

  it('commit: writes script and manifest, renames all three over the old ones; a planted link is replaced, not written through', async () => {
    const out = join(dir.path, 'out');
    const final = outputPaths(out, 'demo');
    const partial = partialPaths(final);
    await prepareOutputDir(final);
    await writeFile(partial.image, 'new image');
    await writeFile(final.image, 'old image');
    const victim = await dir.write('victim', 'stand-in victim');
    await symlink(victim, final.script);
    await commitOutputs(partial, final, '#!/bin/sh\n', '{"new":1}\n');
    assert.equal(await readFile(final.image, 'utf8'), 'new image');
    assert.equal(await readFile(final.script, 'utf8'), '#!/bin/sh\n');
    assert.equal((await lstat(final.script)).isSymbolicLink(), false);
    assert.equal((await lstat(final.script)).mode & 0o777, 0o755);
    assert.equal(await readFile(final.manifest, 'utf8'), '{"new":1}\n');
    assert.equal(await readFile(victim, 'utf8'), 'stand-in victim');
    assert.deepEqual((await readdir(out)).sort(), ['demo.img', 'demo.manifest.json', 'demo.sh']);
  });

  it('commit of a hostfs root swaps the directory, removing the old tree', async () => {
    const final = outputPaths(dir.path, 'h');
    const partial = partialPaths(final);
    await mkdir(final.root);
    await writeFile(join(final.root, 'old-file'), 'old');
    await mkdir(partial.root);
    await writeFile(join(partial.root, 'new-file'), 'new');
    await commitOutputs(partial, final, '#!/bin/sh\n', '{}\n', true);
    assert.deepEqual(await readdir(final.root), ['new-file']);
    assert.deepEqual((await readdir(dir.path)).sort(), ['h.manifest.json', 'h.root', 'h.sh']);
  });

  it('removePartials removes the partial files and tree and leaves the finished outputs', async () => {
    const final = outputPaths(dir.path, 'demo');
    const partial = partialPaths(final);
    for (const f of [partial.image, partial.script, partial.manifest, final.image]) await writeFile(f, 'x');
    await mkdir(join(partial.root, 'etc'), { recursive: true });
    await removePartials(partial);
    assert.deepEqual(await readdir(dir.path), ['demo.img']);
    assert.equal(existsSync(partial.root), false);
  });
});
