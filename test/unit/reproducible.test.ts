import assert from 'node:assert/strict';
import type { RecipeError } from '../../src/errors.js';
import { inodeTimeCommands, usedInodes } from '../../src/host/e2fs.js';
import { DEFAULT_EPOCH, derivedUuid, loadRecipe } from '../../src/recipe/load.js';
import { derivedSalt } from '../../src/steps/password.js';
import { clampShadow } from '../../src/steps/reproducible.js';
import { rejection, tempDir, type TempDir } from '../helpers.js';

const DUMPE2FS = `Inode count:              24576
First inode:              11
Inodes per group:         8192

Group 0: (Blocks 0-32767) csum 0x1234 [ITABLE_ZEROED]
  Free inodes: 15-8192
Group 1: (Blocks 32768-65535) csum 0x1234 [INODE_UNINIT, ITABLE_ZEROED]
  Free inodes: 8193-8194, 8197-16384
Group 2: (Blocks 65536-98303) csum 0x1234 [INODE_UNINIT, ITABLE_ZEROED]
  Free inodes: 
`;

describe('reproducible images', () => {
  it('finds the inodes in use from dumpe2fs: the root, then from "First inode" on, per group', () => {
    const used = usedInodes(DUMPE2FS);
    assert.deepEqual(used.slice(0, 6), [2, 11, 12, 13, 14, 8195]);
    assert.equal(used[6], 8196);
    assert.equal(used.length, 6 + 1 + 8192, 'a group with no free inodes is all in use');
    assert.equal(inodeTimeCommands([2], 1700000000), 'sif <2> atime 1700000000\nsif <2> ctime 1700000000\nsif <2> crtime 1700000000\n');
  });

  it('clamps password ages to the epoch day and leaves older ones and other fields alone', () => {
    const text = 'root:$6$x$y:20419:0:99999:7:::\nold:*:10000:0:99999:7:::\nbroken-line\nnoage:*::0:99999:7:::\n';
    assert.equal(clampShadow(text, 1700000000), 'root:$6$x$y:19675:0:99999:7:::\nold:*:10000:0:99999:7:::\nbroken-line\nnoage:*::0:99999:7:::\n');
  });

  it('derives salts and UUIDs from their inputs only', () => {
    const salt = derivedSalt('root', 'secret-pw', 1700000000);
    assert.match(salt, /^[./0-9A-Za-z]{16}$/);
    assert.equal(derivedSalt('root', 'secret-pw', 1700000000), salt);
    assert.notEqual(derivedSalt('root', 'other-pw', 1700000000), salt);
    assert.notEqual(derivedSalt('admin', 'secret-pw', 1700000000), salt);
    const uuid = derivedUuid('umlbuild:demo:1');
    assert.match(uuid, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.equal(derivedUuid('umlbuild:demo:1'), uuid);
    assert.notEqual(derivedUuid('umlbuild:demo:2'), uuid);
  });

  describe('in recipes', () => {
    let dir: TempDir;
    beforeEach(async () => {
      dir = await tempDir();
    });
    afterEach(() => dir.remove());
    const dirFirst = (extra: string) => ['name: demo', extra, 'steps:', '  - step: directory', '  - step: template', '    template: hostname', '  - step: pack', '    size: 64M', ''].join('\n');
    const mounted = (extra: string) => ['name: demo', extra, 'steps:', '  - step: sparse-disk', '    size: 64M', '  - step: mkfs', '  - step: mount', '  - step: unmount', ''].join('\n');

    it('reproducible: true adds a reproducible step just before pack, with a fixed epoch and a UUID from the recipe', async () => {
      const plan = await loadRecipe(await dir.write('r.yml', dirFirst('reproducible: true')));
      assert.deepEqual(
        plan.steps.map((s) => s.kind),
        ['directory', 'template', 'reproducible', 'pack'],
      );
      assert.deepEqual(plan.reproducible, { epoch: DEFAULT_EPOCH, uuid: derivedUuid(`umlbuild:demo:${DEFAULT_EPOCH}`) });
      assert.equal(plan.steps[2]!.line, plan.steps[3]!.line, 'problems with it are reported at the pack step');
    });

    it('SOURCE_DATE_EPOCH turns it on and sets the epoch; reproducible: false turns it off', async () => {
      const on = await loadRecipe(await dir.write('a.yml', dirFirst('')), { env: { SOURCE_DATE_EPOCH: '1700000000' } });
      assert.equal(on.reproducible?.epoch, 1700000000);
      const off = await loadRecipe(await dir.write('b.yml', dirFirst('reproducible: false')), { env: { SOURCE_DATE_EPOCH: '1700000000' } });
      assert.equal(off.reproducible, undefined);
      assert.ok(!off.steps.some((s) => s.kind === 'reproducible'));
      const bad = await rejection<RecipeError>(loadRecipe(await dir.write('c.yml', dirFirst('')), { env: { SOURCE_DATE_EPOCH: 'yesterday' } }));
      assert.match(bad.message, /SOURCE_DATE_EPOCH must be a positive number of seconds since 1970, not "yesterday"/);
    });

    it('a recipe that mounts an image cannot be reproducible: an error for reproducible: true, a warning for SOURCE_DATE_EPOCH', async () => {
      const e = await rejection<RecipeError>(loadRecipe(await dir.write('m.yml', mounted('reproducible: true'))));
      assert.match(e.message, /m\.yml:2:15: reproducible: reproducible images need a directory-first recipe/);
      const plan = await loadRecipe(await dir.write('n.yml', mounted('')), { env: { SOURCE_DATE_EPOCH: '1700000000' } });
      assert.equal(plan.reproducible, undefined);
      assert.match(plan.warnings.join('\n'), /SOURCE_DATE_EPOCH is set, but only directory-first recipes/);
    });
  });
});
