/** The plan is data (model/plan.ts): what the loader makes fits its schema, and a plan a caller spoiled is refused before anything runs. */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { EXIT, RecipeError } from '../../src/errors.js';
import { planDataProblems, planSchema } from '../../src/model/plan.js';
import { loadRecipe } from '../../src/recipe/load.js';
import { build } from '../../src/runner/build.js';
import { rejection, tempDir, type TempDir } from '../helpers.js';

describe('model/plan: the plan as data', () => {
  let dir: TempDir;
  beforeEach(async () => {
    dir = await tempDir('umlbuild-plan-');
  });
  afterEach(() => dir.remove());

  it('a loaded plan (with variants and a reproducible epoch) is data: it survives JSON and fits the schema', async () => {
    const file = await dir.write(
      'r.yml',
      ['name: r', 'reproducible: true', 'launch: {mem: 128M}', 'variants:', '  - name: a', '    steps: [{step: echo, message: hi}]', 'steps:', '  - step: directory', '  - step: pack', '    size: 16M', ''].join('\n'),
    );
    const plan = await loadRecipe(file);
    assert.deepEqual(planDataProblems(plan), []);
    const data = planSchema.parse(JSON.parse(JSON.stringify(plan)));
    assert.deepEqual(
      data.steps.map((s) => s.kind),
      ['directory', 'reproducible', 'pack'],
    );
    assert.equal(data.launch.mem, '128M');
    assert.equal(data.variants[0]!.name, 'a');
  });

  it('a plan a library caller changed into nonsense is a recipe error (exit 2) naming the key, and nothing is made', async () => {
    const plan = await loadRecipe(await dir.write('r.yml', 'name: r\nsteps:\n  - step: directory\n  - step: pack\n    size: 16M\n'));
    (plan.launch as { mem: unknown }).mem = 'lots';
    (plan.steps[0] as { kind: unknown }).kind = '';
    const out = join(dir.path, 'out');
    const err = await rejection<RecipeError>(build(plan, { outDir: out, renderer: 'silent', cacheDir: false }));
    assert.ok(err instanceof RecipeError, String(err));
    assert.equal(err.exitCode, EXIT.invalid);
    assert.match(err.message, /launch\.mem: /);
    assert.match(err.message, /steps\[0\]\.kind: /);
    assert.equal(existsSync(out), false, 'no output directory was made');
  });
});
