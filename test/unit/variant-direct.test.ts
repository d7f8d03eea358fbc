/**
 * Which variants are written directly, and why the others boot UML
 * (runner/variant-direct.ts), no root: the reasons for a `run` step and for
 * a base that cannot back a directly written COW file.
 */
import assert from 'node:assert/strict';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadRecipe } from '../../src/recipe/load.js';
import { DirectCows, directBlocker, NotDirect } from '../../src/runner/variant-direct.js';
import type { StepContext } from '../../src/steps/types.js';
import { rejection, tempDir, type TempDir } from '../helpers.js';

describe('direct variants: which, and why not', () => {
  let dir: TempDir;
  before(async () => {
    dir = await tempDir('umlbuild-variant-direct-');
  });
  after(() => dir.remove());

  const plan = async () =>
    loadRecipe(
      await dir.write(
        'fleet.yml',
        [
          'name: fleet',
          'variables: { hostname: h }',
          'steps:',
          '  - step: directory',
          '  - { step: template, template: hostname }',
          '  - { step: pack, size: 64M }',
          'variant_steps:',
          '  - { step: template, template: hostname }',
          'variants:',
          '  - { name: a, variables: { hostname: a } }',
          '  - name: b',
          '    steps:',
          '      - { step: run, command: "echo b > /etc/role" }',
          '',
        ].join('\n'),
      ),
    );

  it('a variant of file edits only is written directly; one with a run step says it runs in the guest', async () => {
    const p = await plan();
    assert.equal(directBlocker(p.variants[0]!), undefined);
    assert.match(directBlocker(p.variants[1]!)!, /^its run step \(\S+fleet\.yml:13\) runs in the guest$/);
  });

  it('a base that is not an ext file system, or whose size is no multiple of 4096: NotDirect with the reason, nothing made beside it', async () => {
    const p = await plan();
    const ctx = {} as StepContext;
    for (const [name, bytes, why] of [
      ['plain.img', Buffer.alloc(1 << 20), /^the base image: it is not an ext2\/3\/4 file system$/],
      ['odd.img', Buffer.concat([Buffer.alloc(1080), Buffer.from([0x53, 0xef]), Buffer.alloc(3000)]), /^the base image: its size \(4082 bytes\) is not a multiple of 4096$/],
    ] as const) {
      const base = join(dir.path, name);
      await writeFile(base, bytes);
      const direct = new DirectCows(base, new AbortController().signal);
      try {
        const e = await rejection(direct.write(p.variants[0]!, join(dir.path, `${name}.cow`), ctx));
        assert.ok(e instanceof NotDirect);
        assert.match(e.message, why);
        // Asked again, it says the same without looking again.
        assert.match((await rejection(direct.write(p.variants[0]!, join(dir.path, `${name}.cow`), ctx))).message, why);
      } finally {
        await direct.close();
      }
    }
    assert.deepEqual((await readdir(dir.path)).sort(), ['fleet.yml', 'odd.img', 'plain.img']);
  });
});
