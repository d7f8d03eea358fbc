import assert from 'node:assert/strict';
import type { RecipeError } from '../../src/errors.js';
import { loadRecipe } from '../../src/recipe/load.js';
import { NO_HOSTFS } from '../../src/launch/schema.js';
import { launchArgs } from '../../src/launch/line.js';
import { rejection, tempDir, type TempDir } from '../helpers.js';

describe('lockdown: true', () => {
  let dir: TempDir;
  beforeEach(async () => {
    dir = await tempDir();
  });
  afterEach(() => dir.remove());
  const recipe = (...extra: string[]) =>
    dir.write('r.yml', ['name: locked', 'lockdown: true', 'tune: uml', ...extra, 'steps:', '  - step: sparse-disk', '    size: 64M', '  - step: mkfs', '  - step: mount', '  - step: unmount', ''].join('\n'));

  it('adds the lockdown step before tune-uml and confines hostfs to a path that cannot exist', async () => {
    const plan = await loadRecipe(await recipe());
    assert.deepEqual(
      plan.steps.map((s) => s.kind),
      ['sparse-disk', 'mkfs', 'mount', 'lockdown', 'tune-uml', 'unmount'],
    );
    const line = launchArgs(plan.launch, { image: 'x.img', umid: 'u' });
    assert.ok(line.includes(`hostfs=${NO_HOSTFS}`), line.join(' '));
  });

  it('keeps a declared hostfs share as the only hostfs root', async () => {
    const plan = await loadRecipe(await recipe('launch:', '  hostfs: /srv/share'));
    const line = launchArgs(plan.launch, { image: 'x.img', umid: 'u' });
    assert.deepEqual(
      line.filter((a) => a.startsWith('hostfs=')),
      ['hostfs=/srv/share'],
    );
  });

  it('refuses bpfflash', async () => {
    const e = await rejection<RecipeError>(loadRecipe(await recipe('launch:', '  networks:', '    - { device: vec0, transport: raw, ifname: veth0, bpfflash: 1 }')));
    assert.match(e.message, /r\.yml:\d+:\d+: launch\.networks\[0\]\.bpfflash: lockdown: bpfflash lets the guest load BPF code into the host kernel/);
  });
});
