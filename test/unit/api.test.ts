/** The library API (src/index.ts, the package's export): load, build with events, no root needed for this recipe. */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { exec } from '../../src/host/exec.js';
import { build, loadRecipe, RecipeError, type BuildEvent } from '../../src/index.js';
import { rejection, tempDir, type TempDir } from '../helpers.js';

describe('library API', function () {
  this.timeout(30000);
  let dir: TempDir;
  beforeEach(async () => {
    dir = await tempDir();
  });
  afterEach(() => dir.remove());

  it('loadRecipe + build with onEvent: the events of each step, in order, and the archive', async () => {
    const file = await dir.write(
      'r.yml',
      [
        'name: api',
        'variables: { hostname: api-host, token: { default: api-secret-token, secret: true } }',
        'steps:',
        '  - step: directory',
        '  - step: template',
        '    template: hostname',
        '  - step: echo',
        '    message: "token ${token}"',
        '  - step: pack',
        '    fs: tar',
        '',
      ].join('\n'),
    );
    const plan = await loadRecipe(file);
    const events: BuildEvent[] = [];
    const r = await build(plan, { outDir: join(dir.path, 'out'), renderer: 'silent', cacheDir: false, onEvent: (e) => events.push(e) });
    assert.deepEqual(
      events.filter((e) => e.type.startsWith('step-')).map((e) => `${e.type} ${'kind' in e ? e.kind : ''}`),
      ['step-started directory', 'step-finished directory', 'step-started template', 'step-finished template', 'step-started echo', 'step-finished echo', 'step-started pack', 'step-finished pack'],
    );
    // A stale journal of another build on this host may come first as a warning.
    const first = events.find((e) => e.type !== 'warning');
    assert.equal(first?.type, 'build-started', JSON.stringify(events[0]));
    assert.equal(events.at(-1)!.type, 'build-finished');
    assert.ok(
      events.some((e) => e.type === 'output' && e.line === 'token ***'),
      'secrets are masked in events',
    );
    assert.ok(!JSON.stringify(events).includes('api-secret-token'));
    const { stdout } = await exec('tar', ['-xOf', r.outputs.image, './etc/hostname']);
    assert.equal(stdout.trim(), 'api-host');
  });

  it('loadRecipe rejects a bad recipe with a RecipeError that locates it', async () => {
    const file = await dir.write('bad.yml', 'name: bad\nsteps:\n  - step: teleport\n');
    const e = await rejection<RecipeError>(loadRecipe(file));
    assert.ok(e instanceof RecipeError);
    assert.match(e.message, /bad\.yml:3:11: steps\[0\]\.step: unknown step kind "teleport"/);
  });
});
