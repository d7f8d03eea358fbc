/**
 * The bundled command line (test/bundle.ts; `npm run build`, and `npm ci`'s
 * prepare) and how bin/umlbuild chooses between it and src/ in a clone: the
 * bundle while no file or directory under src/ is newer than its stamp,
 * src/ through tsx otherwise. On copies in temporary directories, never on
 * this checkout's dist/.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, readdir, readFile, rename, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { exec } from '../../src/host/exec.js';
import { bundle, newestSourceMtime } from '../bundle.js';
import { BIN, PROJECT, tempDir, type TempDir } from '../helpers.js';

/** A resolve hook that appends every module URL node loads to `log` (node --import HOOK). */
async function moduleRecorder(dir: string): Promise<{ hook: string; loaded: () => Promise<string[]> }> {
  const log = join(dir, 'modules.log');
  const hook = join(dir, 'record-modules.mjs');
  const resolver = `import { appendFileSync } from 'node:fs';\nexport async function resolve(s, c, next) { const r = await next(s, c); appendFileSync(${JSON.stringify(log)}, r.url + '\\n'); return r; }\n`;
  await writeFile(hook, `import { register } from 'node:module';\nregister('data:text/javascript,' + encodeURIComponent(${JSON.stringify(resolver)}));\n`);
  return { hook, loaded: async () => [...new Set((await readFile(log, 'utf8')).split('\n').filter((u) => u.startsWith('file:')))] };
}

/**
 * Run a bin/umlbuild as a user's shell does. Under c8, node hands NODE_V8_COVERAGE to every child process
 * whatever its environment says, and bin/umlbuild then runs src/ (so that coverage is of src/): `env -u`
 * removes it for the child. A test that sets it itself (`env.NODE_V8_COVERAGE`) keeps it.
 */
function runBin(bin: string, args: string[], opts: Parameters<typeof exec>[2] = {}) {
  return opts.env?.NODE_V8_COVERAGE ? exec(bin, args, opts) : exec('env', ['-u', 'NODE_V8_COVERAGE', bin, ...args], opts);
}

describe('the bundled command line (dist/bundle/)', function () {
  this.timeout(120_000);
  let dir: TempDir;
  before(async () => {
    dir = await tempDir('umlbuild-bundle-');
  });
  after(() => dir?.remove());

  it("bundle(): one CommonJS file, its code cache (accepted), the templates and the stamp (src/'s newest mtime); a clone's bin/umlbuild runs it, loading no module of src/ or node_modules", async () => {
    // A clone whose src/, recipes and packages are this checkout's, and whose dist/ is its own.
    const clone = join(dir.path, 'clone');
    await mkdir(join(clone, 'bin'), { recursive: true });
    await copyFile(BIN, join(clone, 'bin', 'umlbuild'));
    for (const f of ['src', 'recipes', 'overlays', 'node_modules', 'package.json']) await symlink(join(PROJECT, f), join(clone, f));
    await bundle(join(clone, 'dist'));

    assert.deepEqual((await readdir(join(clone, 'dist', 'bundle'))).sort(), ['stamp', 'umlbuild.cjs', 'umlbuild.cjs.cache']);
    const templates = (await readdir(join(PROJECT, 'src', 'templates'))).filter((f) => f.endsWith('.ejs'));
    assert.ok(templates.length > 0);
    assert.deepEqual((await readdir(join(clone, 'dist', 'templates'))).sort(), templates.sort());
    assert.equal(Number(await readFile(join(clone, 'dist', 'bundle', 'stamp'), 'utf8')), await newestSourceMtime(join(PROJECT, 'src')));
    // The code cache is this V8's of this bundle: a run that would write a rejected one leaves it as it is.
    const cache = join(clone, 'dist', 'bundle', 'umlbuild.cjs.cache');
    const made = (await stat(cache)).mtimeMs;
    assert.equal((await runBin(join(clone, 'bin', 'umlbuild'), ['--version'], { env: { UMLBUILD_CODE_CACHE: 'write' } })).exitCode, 0);
    assert.equal((await stat(cache)).mtimeMs, made, 'the code cache was accepted, not written again');

    const rec = await moduleRecorder(dir.path);
    const run = (args: string[]) => runBin(join(clone, 'bin', 'umlbuild'), args, { cwd: dir.path, reject: false, env: { NODE_OPTIONS: `--import=${rec.hook}` } });
    const version = await run(['--version']);
    assert.equal(version.exitCode, 0, version.stderr);
    assert.equal(version.stdout.trim(), (JSON.parse(await readFile(join(PROJECT, 'package.json'), 'utf8')) as { version: string }).version);
    // recipes: yaml, zod and the recipe loader; the recipes directory and the templates resolved from the bundle.
    const recipes = await run(['recipes']);
    assert.equal(recipes.exitCode, 0, recipes.stderr);
    assert.match(recipes.stdout, /^bookworm {2}Debian 12 \(bookworm\)/m);
    assert.ok(recipes.stdout.includes(`in ${join(clone, 'recipes')}/;`), recipes.stdout.slice(-300));
    // The modules node loads as ES modules: bin/umlbuild only (the bundle is CommonJS; no src/, no tsx, no package).
    assert.deepEqual(
      (await rec.loaded()).filter((u) => u !== `file://${join(clone, 'bin', 'umlbuild')}` && u !== `file://${rec.hook}`),
      [],
    );
    // What ran is the bundle: the stack trace of -v names it.
    const failed = await run(['-v', 'validate', join(dir.path, 'no-such-recipe.yml')]);
    assert.equal(failed.exitCode, 2, failed.stderr);
    assert.match(failed.stderr, /at loadRecipe \(umlbuild\/dist\/bundle\/umlbuild\.cjs:\d+:\d+\)/);
  });

  it('moved elsewhere (the packed bundle, installed), the bundle and its code cache still run, and stack traces name neither place', async () => {
    const moved = join(dir.path, 'moved');
    await rename(join(dir.path, 'clone'), moved);
    const cache = join(moved, 'dist', 'bundle', 'umlbuild.cjs.cache');
    const made = (await stat(cache)).mtimeMs;
    const failed = await runBin(join(moved, 'bin', 'umlbuild'), ['-v', 'validate', join(dir.path, 'no-such-recipe.yml')], { cwd: dir.path, reject: false, env: { UMLBUILD_CODE_CACHE: 'write' } });
    assert.equal(failed.exitCode, 2, failed.stderr);
    assert.match(failed.stderr, /at loadRecipe \(umlbuild\/dist\/bundle\/umlbuild\.cjs:\d+:\d+\)/);
    assert.doesNotMatch(failed.stderr, new RegExp(`${dir.path}/(clone|moved)/dist`));
    assert.equal((await stat(cache)).mtimeMs, made, 'the code cache was accepted where it moved');
  });

  describe('bin/umlbuild in a clone chooses', () => {
    // A stand-in clone: src/cli.ts and dist/bundle/umlbuild.cjs that each say which they are.
    let clone: string;
    const past = new Date('2024-01-01T00:00:00Z');
    const which = async (env: Record<string, string> = {}) => {
      const r = await runBin(join(clone, 'bin', 'umlbuild'), [], { cwd: clone, reject: false, env });
      assert.equal(r.exitCode, 0, r.stderr);
      return r.stdout.trim();
    };
    const stamp = async () => writeFile(join(clone, 'dist', 'bundle', 'stamp'), `${JSON.stringify(await newestSourceMtime(join(clone, 'src')))}\n`);
    const age = async () => {
      for (const p of ['src/sub/x.ts', 'src/cli.ts', 'src/sub', 'src']) await utimes(join(clone, p), past, past);
    };

    before(async () => {
      clone = join(dir.path, 'stand-in');
      for (const d of ['bin', 'src/sub', 'dist/bundle']) await mkdir(join(clone, d), { recursive: true });
      await copyFile(BIN, join(clone, 'bin', 'umlbuild'));
      await symlink(join(PROJECT, 'node_modules'), join(clone, 'node_modules'));
      await writeFile(join(clone, 'package.json'), '{ "type": "module" }\n');
      await writeFile(join(clone, 'src', 'cli.ts'), "export async function main(): Promise<number> {\n  process.stdout.write('src\\n');\n  return 0;\n}\n");
      await writeFile(join(clone, 'src', 'sub', 'x.ts'), 'export const x = 1;\n');
      await writeFile(join(clone, 'dist', 'bundle', 'umlbuild.cjs'), "exports.main = async () => {\n  process.stdout.write('bundle\\n');\n  return 0;\n};\n");
      await age();
    });

    it('src/ when there is no stamp (no bundle made, or its build did not finish)', async () => {
      assert.equal(await which(), 'src');
    });

    it('the bundle when its stamp holds the newest mtime under src/', async () => {
      await stamp();
      assert.equal(await which(), 'bundle');
    });

    it('src/ when UMLBUILD_SRC=1, or when coverage is measured (NODE_V8_COVERAGE, c8): tests measure src/', async () => {
      assert.equal(await which({ UMLBUILD_SRC: '1' }), 'src');
      assert.equal(await which({ NODE_V8_COVERAGE: join(dir.path, 'coverage') }), 'src');
    });

    it('under coverage, the copy of src/ compiled for it (cov-src/, test/cov-src.ts) while its stamp is current; src/ through tsx when stale or UMLBUILD_SRC=1', async () => {
      const coverage = { NODE_V8_COVERAGE: join(dir.path, 'coverage') };
      await mkdir(join(clone, 'cov-src'), { recursive: true });
      await writeFile(join(clone, 'cov-src', 'cli.js'), "export async function main() {\n  process.stdout.write('cov-src\\n');\n  return 0;\n}\n");
      assert.equal(await which(coverage), 'src', 'no stamp: src/');
      await writeFile(join(clone, 'cov-src', 'stamp'), `${JSON.stringify(await newestSourceMtime(join(clone, 'src')))}\n`);
      assert.equal(await which(coverage), 'cov-src');
      assert.equal(await which({ ...coverage, UMLBUILD_SRC: '1' }), 'src');
      assert.equal(await which({ ...coverage, UMLBUILD_DIST: '1' }), 'bundle');
      await writeFile(join(clone, 'src', 'sub', 'x.ts'), 'export const x = 3;\n');
      assert.equal(await which(coverage), 'src', 'a source newer than the stamp: src/');
      await rm(join(clone, 'cov-src'), { recursive: true });
      await age();
    });

    it('src/ when a file under src/ was changed since; the bundle again once it is made again; UMLBUILD_DIST=1 the bundle regardless', async () => {
      await writeFile(join(clone, 'src', 'sub', 'x.ts'), 'export const x = 2;\n');
      assert.equal(await which(), 'src');
      assert.equal(await which({ UMLBUILD_DIST: '1' }), 'bundle');
      await stamp();
      assert.equal(await which(), 'bundle');
    });

    it('src/ when a file was added or removed under src/ (its directory is newer)', async () => {
      await age();
      await stamp();
      assert.equal(await which(), 'bundle');
      await writeFile(join(clone, 'src', 'sub', 'y.ts'), 'export const y = 1;\n');
      assert.equal(await which(), 'src');
      await utimes(join(clone, 'src', 'sub', 'y.ts'), past, past);
      await age();
      await stamp();
      await rm(join(clone, 'src', 'sub', 'y.ts'));
      assert.equal(await which(), 'src');
    });

    it('the bundle where there is no src/ (the installed package)', async () => {
      await rm(join(clone, 'dist', 'bundle', 'stamp'));
      await rm(join(clone, 'src'), { recursive: true });
      assert.ok(!existsSync(join(clone, 'src')));
      assert.equal(await which(), 'bundle');
    });
  });
});
