/**
 * Shipped recipes by name: `umlbuild busybox` from any directory builds the
 * package's recipes/busybox.yml when no such file is here (a file here wins,
 * and umlbuild says which it used); `umlbuild recipes` lists them with their
 * descriptions and variables. A path (`../x`, `/x`) is never looked up among
 * the shipped recipes.
 */
import assert from 'node:assert/strict';
import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { exec } from '../../src/host/exec.js';
import { findRecipe, RECIPES_DIR, recipes, shippedNames } from '../../src/api/recipes.js';
import { BIN, PROJECT, rejection, tempDir, type TempDir } from '../helpers.js';

const RECIPE = 'name: demo\ndescription: a demo\nvariables:\n  greeting: { default: hello, description: what it says }\nsteps:\n  - step: directory\n';

describe('shipped recipes by name', function () {
  this.timeout(60000);
  let dir: TempDir;
  let work: string;
  let shipped: string;
  beforeEach(async () => {
    dir = await tempDir('umlbuild-shipped-');
    work = join(dir.path, 'work');
    await mkdir(work);
    shipped = join(dir.path, 'pkg', 'recipes');
    await dir.write('pkg/recipes/demo.yml', RECIPE);
    await dir.write('pkg/recipes/include/part.yml', 'variables: {}\n');
  });
  afterEach(() => dir.remove());

  it('a plain name, with or without .yml, is the shipped recipe when no such file is here', () => {
    assert.deepEqual(findRecipe('demo', { cwd: work, dir: shipped }), { file: join(shipped, 'demo.yml'), from: 'shipped' });
    assert.deepEqual(findRecipe('demo.yml', { cwd: work, dir: shipped }), { file: join(shipped, 'demo.yml'), from: 'shipped' });
    assert.deepEqual(shippedNames(shipped), ['demo'], 'include/ holds parts, not recipes');
  });

  it('a file here wins, and the shipped one it shadows is named', async () => {
    await dir.write('work/demo', RECIPE);
    assert.deepEqual(findRecipe('demo', { cwd: work, dir: shipped }), { file: 'demo', from: 'file', shadows: join(shipped, 'demo.yml') });
    assert.deepEqual(findRecipe('./demo', { cwd: work, dir: shipped }), { file: './demo', from: 'file' });
  });

  it('hostile: ../ paths and absolute paths are never looked up among the shipped recipes (stand-in files beside them)', async () => {
    // What joining the argument to the shipped directory would reach:
    const victim = await dir.write('pkg/victim.yml', 'name: victim\nsteps: []\n');
    await dir.write('victim.yml', 'name: victim\nsteps: []\n');
    for (const arg of ['../victim', '../victim.yml', '../../victim', '..', '.', '.hidden', join(dir.path, 'pkg/victim'), `${shipped}/../victim`, 'a/../../victim']) {
      const r = findRecipe(arg, { cwd: work, dir: shipped });
      assert.deepEqual(r, { file: arg, from: 'file' }, arg);
      assert.notEqual(r.file, victim);
    }
  });

  it('a plain name that is neither a file here nor shipped: exit-2 error naming the shipped ones', async () => {
    const e = await rejection<Error & { exitCode: number }>(Promise.resolve().then(() => findRecipe('nope', { cwd: work, dir: shipped })));
    assert.equal(e.exitCode, 2);
    assert.match(e.message, /nope: no such file, and umlbuild ships no recipe of that name \(shipped: demo; `umlbuild recipes` describes them\)/);
  });

  it("the package's recipes: descriptions and variables, those of the file they extend included", async () => {
    const list = await recipes();
    const names = list.map((r) => r.name);
    for (const n of ['bookworm', 'busybox', 'trixie']) assert.ok(names.includes(n), `${n} in ${names}`);
    assert.ok(!names.includes('debian'), 'include/debian.yml is a part');
    const bookworm = list.find((r) => r.name === 'bookworm')!;
    assert.equal(bookworm.file, join(RECIPES_DIR, 'bookworm.yml'));
    assert.equal(bookworm.description, 'Debian 12 (bookworm) root filesystem for User Mode Linux');
    assert.deepEqual(
      bookworm.variables.find((v) => v.name === 'suite'),
      { name: 'suite', default: 'bookworm', description: 'the Debian suite to bootstrap', required: true },
    );
    const password = bookworm.variables.find((v) => v.name === 'root_password')!;
    assert.equal(password.secret, true);
    assert.equal('default' in password, false, "a secret variable's default is not listed");
    assert.equal(RECIPES_DIR, join(PROJECT, 'recipes/'));
  });

  describe('on the command line, from an empty directory', () => {
    const cli = (args: string[]) => exec(BIN, args, { reject: false, cwd: work, env: { PATH: process.env.PATH!, HOME: process.env.HOME ?? '/root' } });

    it('`umlbuild recipes` lists every shipped recipe with its description and variables', async () => {
      const r = await cli(['recipes']);
      assert.equal(r.exitCode, 0, r.stderr);
      assert.match(r.stdout, /^busybox {2}A tiny OpenWRT-like rootfs \(static busybox, busybox init\) for User Mode Linux$/m);
      assert.match(r.stdout, /^ {4}hostname=uml$/m);
      assert.match(r.stdout, /^ {4}network=dhcp\n {8}dhcp, static \(with address\/netmask\/gateway\) or none$/m);
      assert.match(r.stdout, /^ {4}root_password \(secret, generated when not given\)$/m);
      assert.match(r.stdout, /^bookworm {2}Debian 12/m);
      const json = JSON.parse((await cli(['recipes', '--json'])).stdout) as { name: string }[];
      assert.deepEqual(
        json.map((j) => j.name),
        shippedNames(),
      );
    });

    it('`umlbuild validate busybox` and `umlbuild --dry-run busybox` use the shipped recipe and say so', async () => {
      const v = await cli(['validate', 'busybox']);
      assert.match(v.stderr, new RegExp(`^umlbuild: busybox: the recipe that comes with umlbuild, ${join(RECIPES_DIR, 'busybox.yml')} \\(no file busybox here\\)$`, 'm'));
      assert.equal(v.exitCode, 0, v.stderr);
      assert.match(v.stdout, /^busybox: ok \(\d+ steps\)$/m);
      const d = await cli(['--dry-run', 'busybox', '--out', join(dir.path, 'out')]);
      assert.equal(d.exitCode, 0, d.stderr);
      assert.match(d.stderr, /busybox: the recipe that comes with umlbuild/);
      assert.deepEqual(await readdir(work), [], 'nothing written here');
    });

    it('a file here of that name wins, and umlbuild says so', async () => {
      await dir.write('work/busybox', 'name: mine\nsteps: [{ step: directory }]\n');
      const r = await cli(['validate', 'busybox']);
      assert.match(r.stderr, /^umlbuild: busybox: the file here, not the recipe of that name that comes with umlbuild \(.*recipes\/busybox\.yml\)$/m);
    });

    it('an unknown name: exit 2 naming the shipped recipes, no stack trace', async () => {
      const r = await cli(['busybocks']);
      assert.equal(r.exitCode, 2);
      assert.match(r.stderr, /busybocks: no such file, and umlbuild ships no recipe of that name \(shipped: .*busybox.*\)/);
      assert.doesNotMatch(r.stderr, /^\s+at /m);
    });
  });
});
