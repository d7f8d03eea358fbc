import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { checkDeps, problems, type DepReport } from '../check-deps.js';
import { tempDir, type TempDir } from '../helpers.js';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const TSCONFIG = JSON.stringify({ compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', strict: true } });

/** A small tree with a tsconfig like the project's, and its files (path -> text). */
async function tree(files: Record<string, string>): Promise<TempDir> {
  const dir = await tempDir('umlbuild-deps-');
  await dir.write('tsconfig.json', TSCONFIG);
  for (const [name, text] of Object.entries(files)) await dir.write(name, text);
  return dir;
}

async function check(files: Record<string, string>, allowed?: Parameters<typeof checkDeps>[2]): Promise<DepReport> {
  const dir = await tree(files);
  try {
    return await checkDeps(dir.path, undefined, allowed ?? []);
  } finally {
    await dir.remove();
  }
}

describe('dependency rule (test/check-deps.ts)', function () {
  this.timeout(60_000);

  it('src/ has no import cycle and no upward import beyond the allow-list', async () => {
    assert.deepEqual(problems(await checkDeps(repo)), []);
  });

  it('fails on an import cycle made only of type imports', async () => {
    const r = await check({
      'src/host/a.ts': "import type { B } from './b.js';\nexport interface A { b?: B }\n",
      'src/host/b.ts': "import type { C } from './c.js';\nexport interface B { c?: C }\n",
      'src/host/c.ts': "import type { A } from './a.js';\nexport interface C { a?: A }\n",
    });
    assert.equal(r.cycles.length, 1);
    assert.deepEqual([...r.cycles[0]!].sort(), ['src/host/a.ts', 'src/host/b.ts', 'src/host/c.ts']);
    assert.match(problems(r).join('\n'), /import cycle: src\/host\/\w\.ts -> /);
  });

  it('fails on a runtime cycle across layers', async () => {
    const r = await check({
      'src/steps/s.ts': "import { h } from '../host/h.js';\nexport const s = () => h;\n",
      'src/host/h.ts': "import { s } from '../steps/s.js';\nexport const h = 1;\nexport const again = () => s;\n",
    });
    assert.equal(r.cycles.length, 1);
    assert.deepEqual(r.upward, [{ from: 'src/host/h.ts', to: 'src/steps/s.ts', fromLayer: 'host', toLayer: 'steps' }]);
  });

  it('fails on an import that points up the layers (a type import too), not on one that points down', async () => {
    const r = await check({
      'src/model/plan.ts': "import type { Step } from '../steps/step.js';\nexport interface Plan { steps: Step[] }\n",
      'src/steps/step.ts': "import { run } from '../host/exec.js';\nexport interface Step { kind: string }\nexport const go = run;\n",
      'src/host/exec.ts': 'export const run = () => 0;\n',
    });
    assert.deepEqual(r.cycles, []);
    assert.deepEqual(r.upward, [{ from: 'src/model/plan.ts', to: 'src/steps/step.ts', fromLayer: 'model', toLayer: 'steps' }]);
    assert.equal(problems(r).length, 1);
  });

  it('lets an allowed upward import pass, and fails on an allow-list entry that matches nothing', async () => {
    const files = {
      'src/host/x.ts': "import { y } from '../steps/y.js';\nexport const x = y;\n",
      'src/steps/y.ts': 'export const y = 1;\n',
    };
    const allowed = [{ from: 'src/host/x.ts', to: 'src/steps/y.ts', why: 'fixture' }];
    assert.deepEqual(problems(await check(files, allowed)), []);
    const stale = await check({ 'src/steps/y.ts': 'export const y = 1;\n' }, allowed);
    assert.deepEqual(stale.stale, ['src/host/x.ts -> src/steps/y.ts']);
  });

  it('fails on a file no layer claims and on a relative import it cannot resolve', async () => {
    const r = await check({ 'src/misc/z.ts': "import { q } from './missing.js';\nexport const z = q;\n" });
    assert.deepEqual(r.unmapped, ['src/misc/z.ts']);
    assert.deepEqual(r.unresolved, ['src/misc/z.ts: ./missing.js']);
  });
});
