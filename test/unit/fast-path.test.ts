import assert from 'node:assert/strict';
import { checkImagePath, editScript } from '../../src/edits/image.js';
import { NotEditable } from '../../src/edits/model.js';
import { loadRecipe } from '../../src/recipe/load.js';
import { splitForFastPath } from '../../src/runner/fast-path.js';
import { editShadow } from '../../src/steps/password.js';
import { tempDir, type TempDir } from '../helpers.js';

describe('warm builds from a base image (fast path)', () => {
  let dir: TempDir;
  beforeEach(async () => {
    dir = await tempDir();
  });
  afterEach(() => dir.remove());
  const recipe = (...steps: string[]) => dir.write('r.yml', ['name: demo', 'steps:', ...steps.map((s) => `  - ${s}`), ''].join('\n'));
  const DIR = 'step: directory';
  const PACK = 'step: pack\n    size: 64M';

  it('splits a directory-first recipe into base steps and the file edits that follow them, edits moving past modules and pack', async () => {
    const plan = await loadRecipe(await recipe(DIR, 'step: template\n    template: hostname', 'step: modules', 'step: password\n    users: [{ user: root, password: xyzzy1 }]', PACK));
    const split = splitForFastPath(plan);
    assert.ok(typeof split !== 'string', String(split));
    assert.deepEqual(
      split.base.map((s) => s.kind),
      ['directory', 'modules', 'pack'],
    );
    assert.deepEqual(
      split.edits.map((s) => s.kind),
      ['template', 'password'],
    );
  });

  it('says why a recipe cannot take the fast way', async () => {
    const why = async (...steps: string[]) => splitForFastPath(await loadRecipe(await recipe(...steps)));
    assert.equal(await why('step: sparse-disk\n    size: 64M', 'step: mkfs', 'step: mount', 'step: template\n    template: hostname', 'step: unmount'), 'the recipe does not pack an ext image');
    assert.equal(await why(DIR, 'step: template\n    template: hostname', 'step: pack\n    fs: tar'), 'the recipe does not pack an ext image');
    assert.equal(await why(DIR, PACK), 'the recipe has no file-edit steps (template, password, overlay)');
    assert.equal(await why(DIR, 'step: template\n    template: hostname', 'step: run\n    command: cat /etc/hostname', PACK), 'steps[2] run comes after a file edit and may depend on it');
    assert.equal(await why(DIR, 'step: password\n    method: YESCRYPT\n    users: [{ user: root, password: xyzzy1 }]', PACK), 'steps[1] password: only chpasswd in the image crypts YESCRYPT');
  });

  it('writes a debugfs script that replaces files with their mode and owner, and stamps times when reproducible', () => {
    const script = editScript(
      [
        { kind: 'dir', path: '/opt/x', mode: 0o750, owner: { uid: 0, gid: 4 } },
        { kind: 'file', path: '/opt/x/f', content: 'a', mode: 0o4755, owner: { uid: 1, gid: 2 }, link: 'replace' },
        { kind: 'symlink', path: '/opt/x/l', target: '../f', owner: { uid: 0, gid: 0 } },
      ],
      (i) => `/stage/${i}`,
      1700000000,
    );
    const lines = script.trim().split('\n');
    assert.deepEqual(lines.slice(0, 3), ['mkdir /opt/x', 'sif /opt/x mode 040750', 'sif /opt/x uid 0']);
    assert.ok(lines.includes('write /stage/1 /opt/x/f'));
    assert.ok(lines.includes('sif /opt/x/f mode 0104755'));
    assert.ok(lines.includes('symlink /opt/x/l ../f'));
    assert.ok(lines.includes('sif /opt/x/f mtime 1700000000'));
    assert.ok(lines.includes('sif /opt/x ctime 1700000000'), "the parent directory's times too");
    assert.throws(() => checkImagePath('/etc/with space'), NotEditable);
    assert.throws(() => checkImagePath('relative'), NotEditable);
  });

  it('sets hashes and the change day in /etc/shadow, and names a user the image lacks', () => {
    const text = 'root:*:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\n';
    assert.equal(editShadow(text, new Map([['root', '$6$s$h']]), 20000), 'root:$6$s$h:20000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\n');
    assert.throws(() => editShadow(text, new Map([['bob', '$6$s$h']]), 20000), /no user bob in the image's \/etc\/shadow/);
  });
});
