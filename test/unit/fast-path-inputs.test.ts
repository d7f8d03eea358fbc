import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { exec } from '../../src/host/exec.js';
import { loadRecipe } from '../../src/recipe/load.js';
import { baseInputs, splitForFastPath, type FastSplit } from '../../src/runner/fast-path.js';
import type { StepContext } from '../../src/steps/types.js';
import { tempDir, type TempDir } from '../helpers.js';

const ctx = { exec: (cmd: string, args: readonly string[]) => exec(cmd, args) } as unknown as StepContext;

describe('runner/fast-path: what keys the cached base image', () => {
  let dir: TempDir;
  beforeEach(async () => {
    dir = await tempDir('umlbuild-fastkey-');
  });
  afterEach(() => dir.remove());

  async function inputs() {
    const plan = await loadRecipe(`${dir.path}/r.yml`);
    const split = splitForFastPath(plan) as FastSplit;
    assert.equal(typeof split, 'object', String(split));
    return baseInputs(plan, split.base, ctx);
  }

  it("holds the arch, the base steps with their options, a source tree's contents and a run script's sha256; edits are not in it", async () => {
    await dir.write('tree/etc/os-release', 'ID=demo\n');
    await dir.write('setup.sh', 'echo one\n');
    await dir.write(
      'r.yml',
      [
        'name: demo',
        'steps:',
        '  - step: directory',
        `  - step: rootfs-dir`,
        `    source: ${dir.path}/tree`,
        '  - step: run',
        '    script: setup.sh',
        '  - step: template',
        '    template: hostname',
        '  - step: pack',
        '    size: 64M',
        '',
      ].join('\n'),
    );
    const a = await inputs();
    assert.equal(a.arch, (await exec('dpkg', ['--print-architecture'])).stdout.trim());
    assert.deepEqual(
      (a.steps as [string, unknown][]).map(([k]) => k),
      ['directory', 'rootfs-dir', 'run', 'pack'],
    );
    const [dirInputs, tree, script] = a.inputs as [null, { tree: string }, { script: string }];
    assert.equal(dirInputs, null, 'a directory step has no inputs besides its options');
    assert.match(script.script, /^[0-9a-f]{64}$/);
    assert.ok(tree.tree);
    assert.deepEqual(await inputs(), a, 'the same inputs give the same key');
    await writeFile(`${dir.path}/setup.sh`, 'echo two\n');
    const b = await inputs();
    assert.notDeepEqual((b.inputs as unknown[])[2], script, 'a changed script changes the key');
    await writeFile(`${dir.path}/tree/etc/os-release`, 'ID=other\n');
    assert.notDeepEqual(((await inputs()).inputs as unknown[])[1], tree, 'a changed tree changes the key');
  });
});
