import { createHash } from 'node:crypto';
import assert from 'node:assert/strict';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { RecipeError, StepError, type UserError } from '../../src/errors.js';
import { loadRecipe } from '../../src/recipe/load.js';
import { build } from '../../src/runner/build.js';
import { checkOnFailure } from '../../src/runner/on-failure.js';
import { rejection, tempDir, type TempDir } from '../helpers.js';

describe('build runner (test-only steps, no root needed)', () => {
  let dir: TempDir;
  let warnings: string[];
  beforeEach(async () => {
    dir = await tempDir();
    warnings = [];
  });
  afterEach(() => dir.remove());

  const recipe = (steps: string) => dir.write('r.yml', `name: demo\nvariables: {root_password: very-secret-pw}\nsteps:\n${steps}`);
  const run = async (steps: string) => build(await loadRecipe(await recipe(steps)), { outDir: join(dir.path, 'out'), renderer: 'silent', warn: (l) => warnings.push(l) });

  it('writes image, launch script and manifest on success, and nothing else', async () => {
    const r = await run('  - step: sparse-disk\n    size: 16M\n  - step: echo\n    message: hi ${root_password}\n');
    assert.deepEqual((await readdir(join(dir.path, 'out'))).sort(), ['demo.img', 'demo.img.bmap', 'demo.manifest.json', 'demo.sh']);
    const st = await stat(r.outputs.image);
    assert.equal(st.size, 16 * 2 ** 20);
    assert.ok(st.blocks * 512 < 1024 * 1024, 'image is sparse');
    const manifest = JSON.parse(await readFile(r.outputs.manifest, 'utf8'));
    assert.equal(manifest.image.apparent, 16 * 2 ** 20);
    assert.deepEqual(manifest.image.bmap, {
      file: 'demo.img.bmap',
      sha256: createHash('sha256')
        .update(await readFile(join(dir.path, 'out/demo.img.bmap')))
        .digest('hex'),
    });
    assert.equal(manifest.variables.root_password, '***');
    assert.deepEqual(
      manifest.steps.map((s: { step: string }) => s.step),
      ['sparse-disk', 'echo'],
    );
    const script = await readFile(r.outputs.script, 'utf8');
    assert.match(script, /ubd0="\$UML_UBD0" root=\/dev\/ubda/);
    for (const text of [script, JSON.stringify(manifest)]) assert.doesNotMatch(text, /very-secret-pw/);
  });

  it('unwinds teardown in reverse on failure and leaves no output', async () => {
    const err = await rejection(run('  - step: sparse-disk\n    size: 16M\n  - step: echo\n    message: one\n    defer: first\n  - step: echo\n    message: two\n    defer: second\n  - step: fail\n    message: boom\n'));
    assert.ok(err instanceof StepError);
    assert.match(err.message, /^step steps\[3\] fail \(.*r\.yml:\d+\) failed: boom$/);
    assert.deepEqual(await readdir(join(dir.path, 'out')), []);
  });

  it('keeps an older good image when a rebuild fails', async () => {
    await run('  - step: sparse-disk\n    size: 16M\n');
    const image = join(dir.path, 'out', 'demo.img');
    await writeFile(image, 'old good image');
    await rejection(run('  - step: sparse-disk\n    size: 32M\n  - step: fail\n'));
    assert.equal(await readFile(image, 'utf8'), 'old good image');
    assert.deepEqual((await readdir(join(dir.path, 'out'))).sort(), ['demo.img', 'demo.img.bmap', 'demo.manifest.json', 'demo.sh']);
  });

  it('--on-failure keep: the partial image stays, journaled and marked kept, its path printed with `umlbuild cleanup`; the error is the step failure', async () => {
    const journals = join(dir.path, 'run');
    const before = process.env.UMLBUILD_JOURNAL_DIR;
    process.env.UMLBUILD_JOURNAL_DIR = journals;
    try {
      const plan = await loadRecipe(await recipe('  - step: sparse-disk\n    size: 16M\n  - step: fail\n    message: boom\n'));
      const err = await rejection(build(plan, { outDir: join(dir.path, 'out'), renderer: 'silent', warn: (l) => warnings.push(l), onFailure: 'keep' }));
      assert.ok(err instanceof StepError, String(err));
      const left = await readdir(join(dir.path, 'out'));
      const partial = left.find((f) => f.startsWith('.demo.img.partial-'));
      assert.ok(partial, `the partial image is kept: ${left.join(', ')}`);
      const text = warnings.join('\n');
      assert.match(text, /^step 2\/2 \(Fail\) failed; --on-failure keep: left in place for inspection:$/m);
      assert.ok(text.includes(`  file ${join(dir.path, 'out', partial)}`), text);
      assert.match(text, /^`umlbuild cleanup` releases them \(journal \S+\.json\)\.$/m);
      const [journal] = await readdir(journals);
      const state = JSON.parse(await readFile(join(journals, journal!), 'utf8')) as { kept: boolean; resources: { path: string }[] };
      assert.equal(state.kept, true);
      assert.deepEqual(
        state.resources.map((r) => r.path),
        [join(dir.path, 'out', partial)],
      );
    } finally {
      if (before === undefined) delete process.env.UMLBUILD_JOURNAL_DIR;
      else process.env.UMLBUILD_JOURNAL_DIR = before;
    }
  });

  it('--on-failure shell without a terminal is refused before anything runs (exit 2)', async () => {
    const plan = await loadRecipe(await recipe('  - step: sparse-disk\n    size: 16M\n  - step: fail\n'));
    const err = await rejection<UserError>(build(plan, { outDir: join(dir.path, 'out'), renderer: 'silent', onFailure: 'shell' }));
    assert.equal(err.exitCode, 2);
    assert.match(err.message, /^--on-failure shell opens an interactive shell and needs a terminal, but (stdin|stdout) is not one/);
    assert.throws(() => checkOnFailure('shell', { stdin: true, stdout: false }), /but stdout is not one/);
    assert.doesNotThrow(() => checkOnFailure('shell', { stdin: true, stdout: true }));
    assert.doesNotThrow(() => checkOnFailure('keep', { stdin: false, stdout: false }));
    assert.equal((await readdir(dir.path)).includes('out'), false, 'nothing made');
  });

  it('verifies every step before running any', async () => {
    const err = await rejection<RecipeError>(run('  - step: sparse-disk\n    size: 16M\n  - step: fail\n    in_verify: true\n    message: first problem\n  - step: fail\n    in_verify: true\n    message: second problem\n'));
    assert.ok(err instanceof RecipeError);
    assert.deepEqual(
      err.issues.map((i) => `${i.line} ${i.path} ${i.message}`),
      ['8 steps[1].message first problem', '11 steps[2].message second problem'],
    );
    assert.deepEqual(await readdir(dir.path), ['r.yml'], 'nothing was created');
  });
});
