/**
 * The npm package, as a user gets it: `npm pack` (its prepack builds dist/),
 * `npm install -g` of the tarball into a temporary prefix, then the installed
 * `umlbuild` run from an empty directory outside the checkout: it runs the
 * compiled JavaScript (no src/, no tsx), lists and builds the shipped recipes
 * by name, and the image it builds boots and passes `umlbuild test`.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readdir, readFile, readlink, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { exec } from '../../src/host/exec.js';
import { PROJECT, tempDir, type TempDir } from '../helpers.js';
import { type Installed, npmEnv, packAndInstall } from '../support/package.js';
import { loopsFor, requireRootWith, umlbuildMounts } from './host-state.js';
import { tail, umlbuildInPty } from './pty.js';

/** Every file under `dir`, relative to it. */
async function filesUnder(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true, withFileTypes: true })).filter((e) => !e.isDirectory()).map((e) => relative(dir, join(e.parentPath, e.name)));
}

describe('the npm package: packed, installed into a prefix, run outside the checkout', function () {
  this.timeout(15 * 60 * 1000);
  let dir: TempDir;
  let pkg: Installed;
  let empty: string;
  const version = async () => (JSON.parse(await readFile(join(PROJECT, 'package.json'), 'utf8')) as { version: string }).version;
  /** The installed umlbuild, from the empty directory, with the environment of a login shell (no npm_config_*, no NODE_OPTIONS). */
  const run = (args: string[], env: Record<string, string> = {}) => exec(pkg.bin, args, { cwd: empty, reject: false, env: { ...npmEnv(), ...env } });

  before(async function () {
    await requireRootWith(this, 'linux', 'busybox', 'mkfs.ext4');
    dir = await tempDir('umlbuild-package-', '/var/tmp');
    // An ordinary directory (mkdtemp's is 0700): in one the guest user cannot reach, the busybox boot test fails the same
    // way from the checkout (the kernel cannot mount the root handed over as /dev/fd/3): a bug of its own, not the package's.
    await chmod(dir.path, 0o755);
    pkg = await packAndInstall(dir.path);
    if (pkg.network) console.log('    (npm install: the npm cache lacked registry metadata for the dependencies; fetched it with --prefer-offline)');
    empty = join(dir.path, 'empty');
    await mkdir(empty);
  });
  after(() => dir?.remove());

  it('the tarball: bin, dist (with the templates), recipes, overlays; no src, no TypeScript but declarations', async () => {
    const files = (await exec('tar', ['-tzf', pkg.tarball])).stdout.split('\n').map((f) => f.replace(/^package\//, ''));
    assert.deepEqual(
      files.filter((f) => f.startsWith('src/') || (f.endsWith('.ts') && !f.endsWith('.d.ts'))),
      [],
    );
    for (const f of [
      'bin/umlbuild',
      'dist/bundle/umlbuild.cjs',
      'dist/bundle/umlbuild.cjs.cache',
      'dist/cli.js',
      'dist/index.js',
      'dist/index.d.ts',
      'recipes/busybox.yml',
      'recipes/bookworm.yml',
      'recipes/include/debian.yml',
      'recipes/busybox/shadow.ejs',
      'README.md',
    ])
      assert.ok(files.includes(f), `${f} in the tarball`);
    assert.ok(
      files.some((f) => f.startsWith('overlays/busybox/')),
      'the busybox overlay',
    );
    // Everything read at run time beside the code: every template of src/templates.
    for (const t of (await readdir(join(PROJECT, 'src/templates'))).filter((f) => !f.endsWith('.ts'))) assert.ok(files.includes(`dist/templates/${t}`), `dist/templates/${t}`);
  });

  it("package.json: the entry points exist in the package, tsx is no dependency, the bin is dist's", async () => {
    const manifest = JSON.parse(await readFile(join(pkg.root, 'package.json'), 'utf8')) as Record<string, unknown> & { exports: Record<string, Record<string, string> | string>; dependencies: Record<string, string> };
    assert.equal(manifest.version, await version());
    for (const f of [manifest.main, manifest.types, manifest.exports['.'] && (manifest.exports['.'] as Record<string, string>).types, (manifest.exports['.'] as Record<string, string>).import])
      assert.ok(existsSync(join(pkg.root, String(f))), `${f} exists in the installed package`);
    assert.equal(manifest.dependencies.tsx, undefined);
    assert.equal(await readlink(pkg.bin), '../lib/node_modules/umlbuild/bin/umlbuild');
  });

  it('the installed tree: no src/*.ts, no tsx anywhere in the prefix', async () => {
    const files = await filesUnder(pkg.prefix);
    assert.ok(files.length > 100, `${files.length} files installed`);
    assert.deepEqual(
      files.filter((f) => f.startsWith('lib/node_modules/umlbuild/src/')),
      [],
    );
    assert.deepEqual(
      files.filter((f) => /(^|\/)node_modules\/tsx\//.test(f)),
      [],
    );
    assert.deepEqual(
      files.filter((f) => f.startsWith('lib/node_modules/umlbuild/') && !f.includes('/node_modules/umlbuild/node_modules/') && f.endsWith('.ts') && !f.endsWith('.d.ts')),
      [],
    );
  });

  it('`umlbuild --version` and `umlbuild recipes` from an empty directory; every module they load is of dist/: the bundle', async () => {
    const v = await run(['--version']);
    assert.equal(v.exitCode, 0, v.stderr);
    assert.equal(v.stdout.trim(), await version());
    // A resolve hook records every module node loads (the way `node --import` takes one), for the command that loads the most.
    const log = join(dir.path, 'modules.log');
    const hook = join(dir.path, 'record-modules.mjs');
    const resolver = `import { appendFileSync } from 'node:fs';\nexport async function resolve(s, c, next) { const r = await next(s, c); appendFileSync(${JSON.stringify(log)}, r.url + '\\n'); return r; }\n`;
    await writeFile(hook, `import { register } from 'node:module';\nregister('data:text/javascript,' + encodeURIComponent(${JSON.stringify(resolver)}));\n`);
    const r = await run(['recipes'], { NODE_OPTIONS: `--import=${hook}` });
    assert.equal(r.exitCode, 0, r.stderr);
    assert.match(r.stdout, /^busybox {2}A tiny OpenWRT-like rootfs/m);
    assert.match(r.stdout, /^bookworm {2}Debian 12 \(bookworm\)/m);
    assert.match(r.stdout, /^ {4}hostname=uml$/m);
    assert.ok(r.stdout.includes(`in ${join(pkg.root, 'recipes')}/;`), r.stdout.slice(-300));
    const validate = await run(['validate', 'busybox'], { NODE_OPTIONS: `--import=${hook}` });
    assert.equal(validate.exitCode, 0, validate.stderr);
    assert.match(validate.stderr, new RegExp(`^umlbuild: busybox: the recipe that comes with umlbuild, ${join(pkg.root, 'recipes/busybox.yml')} \\(no file busybox here\\)$`, 'm'));
    const loaded = [...new Set((await readFile(log, 'utf8')).split('\n').filter((u) => u.startsWith('file:')))];
    const ours = loaded.filter((u) => u.includes('/node_modules/umlbuild/') && !u.includes('/node_modules/umlbuild/node_modules/'));
    // The bundle (test/bundle.ts) is CommonJS with the dependencies in it: node loads no ES module of a package, and the
    // stack trace of -v names the bundle.
    assert.deepEqual(
      loaded.filter((u) => u.includes('/node_modules/umlbuild/node_modules/')),
      [],
    );
    const failed = await run(['-v', 'validate', join(dir.path, 'no-such-recipe.yml')]);
    assert.equal(failed.exitCode, 2, failed.stderr);
    assert.match(failed.stderr, /at loadRecipe \(umlbuild\/dist\/bundle\/umlbuild\.cjs:\d+:\d+\)/);
    assert.deepEqual(
      ours.filter((u) => !/\/node_modules\/umlbuild\/(dist\/.*\.js|package\.json|bin\/umlbuild)$/.test(u)),
      [],
    );
    assert.deepEqual(
      loaded.filter((u) => u.includes('/tsx/') || u.includes(PROJECT) || (u.endsWith('.ts') && !u.endsWith('.d.ts'))),
      [],
    );
    assert.deepEqual(await readdir(empty), [], 'nothing written in the directory');
  });

  it('hostile: `umlbuild validate ../victim` and an absolute path mean those paths, never a file beside the shipped recipes', async () => {
    // Stand-ins where ../ joined to the package's recipes directory would lead.
    const lib = join(pkg.prefix, 'lib');
    await writeFile(join(pkg.root, 'victim.yml'), 'name: victim\nsteps: [{ step: directory }]\n');
    await writeFile(join(lib, 'node_modules', 'victim.yml'), 'name: victim\nsteps: [{ step: directory }]\n');
    for (const arg of ['../victim', '../victim.yml', '../../victim', join(pkg.root, 'recipes', '..', 'victim')]) {
      const r = await run(['validate', arg]);
      assert.equal(r.exitCode, 2, `${arg}: ${r.stdout}${r.stderr}`);
      assert.match(r.stderr, /no such file/, arg);
      assert.doesNotMatch(r.stderr, /comes with umlbuild/, arg);
      assert.doesNotMatch(r.stdout, /ok/, arg);
    }
  });

  it('`umlbuild busybox --test` in a terminal, in the empty directory: builds the shipped recipe by name, boots it and passes the checks', async () => {
    const r = await umlbuildInPty(pkg.bin, ['busybox', '--test', '--cache-dir', join(dir.path, 'cache')], 10 * 60 * 1000, { cwd: empty, env: { NODE_OPTIONS: undefined } });
    assert.equal(r.exitCode, 0, tail(r.output, 60));
    assert.match(r.output, /umlbuild: busybox: the recipe that comes with umlbuild, .*\/lib\/node_modules\/umlbuild\/recipes\/busybox\.yml/);
    assert.match(r.output, /^PASS: \d+ of \d+ checks passed/m);
    const out = await readdir(empty);
    for (const f of ['busybox.img', 'busybox.manifest.json', 'busybox.sh']) assert.ok(out.includes(f), `${f} in ${out.join(', ')}`);
    assert.deepEqual(await loopsFor(dir.path), []);
    assert.deepEqual(
      (await umlbuildMounts()).filter((m) => m.includes(dir.path)),
      [],
    );
  });
});
