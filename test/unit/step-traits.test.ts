/**
 * Steps carry traits; everything outside src/steps/ selects steps by them.
 * The proof: a new step kind, written here as its own "file" (one object)
 * and added to the registry (STEPS) and nowhere else, is order-checked at
 * validation, placed by --hook after-bootstrap, keys the fast path's base
 * image with its cache inputs, may be used by COW variants, and builds.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { z } from 'zod';
import { EXIT, RecipeError } from '../../src/errors.js';
import { exec } from '../../src/host/exec.js';
import { readImageFile } from '../../src/host/debugfs.js';
import { loadRecipe } from '../../src/recipe/load.js';
import { build } from '../../src/runner/build.js';
import { baseInputs, splitForFastPath, type FastSplit } from '../../src/runner/fast-path.js';
import { STEPS, stepKinds } from '../../src/steps/index.js';
import { orderProblems } from '../../src/steps/select.js';
import type { AnyStep, Step, StepContext } from '../../src/steps/types.js';
import { stepsText } from '../../src/steps-text.js';
import { rejection, tempDir, type TempDir } from '../helpers.js';
import { requireRootWith } from '../support/skip.js';

/** The whole of a new step kind: puts a tiny system (one file) into the root. */
const seedSchema = z.object({ text: z.string().default('seeded') }).strict();
const seedSystem: Step<z.infer<typeof seedSchema>> = {
  kind: 'seed-system',
  summary: 'write /etc/seed as the whole system (an example step)',
  schema: seedSchema,
  traits: { requires: ['root'], provides: ['system'], inVariant: 'tree', cacheInputs: async (o) => ({ seed: o.text.length }) },
  title: (o) => `Seed the system with ${o.text}`,
  async run(o, ctx) {
    await ctx.writeFile('/etc/seed', `${o.text}\n`);
  },
};

describe('steps carry traits: a new step kind touches its own file and the registry only', () => {
  let dir: TempDir;
  before(() => {
    (STEPS as AnyStep[]).push(seedSystem);
  });
  after(() => {
    (STEPS as AnyStep[]).splice(STEPS.indexOf(seedSystem), 1);
  });
  beforeEach(async () => {
    dir = await tempDir('umlbuild-traits-');
  });
  afterEach(() => dir.remove());

  const recipe = (steps: string[]) => dir.write('r.yml', ['name: seeded', 'steps:', ...steps.map((s) => `  - ${s}`), ''].join('\n'));

  it('is listed by `umlbuild steps` and known to the loader', async () => {
    assert.ok(stepKinds().includes('seed-system'));
    assert.match(stepsText(), /seed-system/);
    const plan = await loadRecipe(await recipe(['step: directory', 'step: seed-system', 'step: pack\n    size: 16M']));
    assert.deepEqual(
      plan.steps.map((s) => s.kind),
      ['directory', 'seed-system', 'pack'],
    );
  });

  it('a wrong order is a recipe error at validation (exit 2), naming the step and what must come first', async () => {
    const err = await rejection<RecipeError>(loadRecipe(await recipe(['step: seed-system', 'step: directory', 'step: pack\n    size: 16M'])));
    assert.ok(err instanceof RecipeError);
    assert.equal(err.exitCode, EXIT.invalid);
    assert.match(err.message, /r\.yml:3:\d+: steps\[0\]\.step: a seed-system step needs a root tree to write into: put a mount or directory step before it/);
  });

  it('--hook after-bootstrap goes after the step that provides the system', async () => {
    const hook = await dir.write('hook.sh', '#!/bin/sh\n');
    const plan = await loadRecipe(await recipe(['step: directory', 'step: seed-system', 'step: pack\n    size: 16M']), { hooks: [{ stage: 'after-bootstrap', script: hook }] });
    assert.deepEqual(
      plan.steps.map((s) => s.kind),
      ['directory', 'seed-system', 'hook', 'pack'],
    );
  });

  it('its cache inputs key the fast path base image, and it may be used in a COW variant', async () => {
    const file = await recipe(['step: directory', 'step: seed-system\n    text: one', 'step: template\n    template: hostname', 'step: pack\n    size: 16M']);
    await dir.write('v.yml', 'name: v\nextends: r.yml\nvariants:\n  - name: a\n    steps:\n      - step: seed-system\n');
    const plan = await loadRecipe(file);
    const split = splitForFastPath(plan) as FastSplit;
    assert.equal(typeof split, 'object', String(split));
    const ctx = { exec: (cmd: string, args: readonly string[]) => exec(cmd, args) } as unknown as StepContext;
    const inputs = (await baseInputs(plan, split.base, ctx)).inputs as unknown[];
    assert.deepEqual(inputs, [null, { seed: 3 }, null]);
    const variant = await loadRecipe(join(dir.path, 'v.yml'));
    assert.deepEqual(
      variant.variants[0]!.steps.map((s) => s.kind),
      ['seed-system'],
    );
  });

  it('the order check follows the traits: a mount cannot be made twice, unmount needs a mount', () => {
    const ps = (kind: string) => ({ step: STEPS.find((s) => s.kind === kind)!, options: {} });
    assert.deepEqual(orderProblems([ps('sparse-disk'), ps('mkfs'), ps('mount'), ps('seed-system'), ps('unmount')]), []);
    assert.deepEqual(
      orderProblems([ps('sparse-disk'), ps('mount'), ps('mkfs'), ps('unmount'), ps('unmount')]).map((p) => p.at),
      [1, 4],
    );
    assert.match(orderProblems([ps('directory'), ps('sparse-disk'), ps('mkfs'), ps('mount')])[0]!.message, /a mount step makes a root tree to write into, but step 1 \(directory\) already made one/);
  });

  it('builds: the example step runs in a real directory-first build (root)', async function () {
    await requireRootWith(this, 'mkfs.ext4', 'debugfs');
    this.timeout(60_000);
    const plan = await loadRecipe(await recipe(['step: directory', 'step: seed-system\n    text: built', 'step: template\n    template: hostname\n    data: {hostname: seeded}', 'step: pack\n    size: 16M']));
    const out = join(dir.path, 'out');
    const r = await build(plan, { outDir: out, renderer: 'silent', cacheDir: join(dir.path, 'cache'), warn: () => undefined });
    assert.match((await readImageFile(r.outputs.image, '/etc/seed')) ?? '', /^built\n?$/);
    assert.match((await readImageFile(r.outputs.image, '/etc/hostname')) ?? '', /^seeded\n?$/);
  });
});
