/**
 * The command line bundled: dist/bundle/umlbuild.cjs, src/cli.ts and
 * everything it loads (our modules and the packages from node_modules) in one
 * file, with a V8 code cache of it beside it (umlbuild.cjs.cache), so that
 * starting `umlbuild` reads two files instead of some 300 and compiles little
 * (issue 15: a warm build in under a second, most of it start-up). The
 * commands' `import()` of the library stays lazy inside it: esbuild runs a
 * module's top level when it is first imported. The templates are copied to
 * dist/templates/.
 *
 * Why CommonJS, and not ES modules (of one entry and its chunks, which this
 * was first): Node 20 has no compile cache for ES modules, and a script's can
 * be given to it (node:vm, `cachedData`); bin/umlbuild runs the bundle so.
 * Measured on validate (npm run bench:startup): ES module chunks 0.28 s of
 * CPU, the CommonJS bundle 0.25 s, with its code cache 0.22 s (node -e 0:
 * 0.07 s). The code cache is made here, by a run of `umlbuild recipes` that
 * writes it (UMLBUILD_CODE_CACHE=write); a node whose V8 differs rejects it
 * and compiles the bundle as if it were not there.
 *
 * `import.meta.url` in our modules is rewritten to the URL the module has in
 * tsc's dist/ (dist/recipe/shipped.js for src/recipe/shipped.ts), so the
 * paths they resolve from it (recipes/, overlays/, package.json,
 * dist/templates/) are the same from the bundle as from the compiled files.
 *
 * It also writes dist/bundle/stamp: the newest mtime under src/ when the
 * bundle was made (read before any source is). bin/umlbuild in a clone runs
 * the bundle while no file or directory under src/ is newer than that, and
 * src/ through tsx otherwise.
 *
 *   tsx test/bundle.ts        (npm run build:cli; `npm run build` and `npm ci`'s prepare run it)
 */
import { existsSync } from 'node:fs';
import { copyFile, mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Plugin } from 'esbuild';
import { exec } from '../src/host/exec.js';

const PROJECT = fileURLToPath(new URL('..', import.meta.url));
const SRC = join(PROJECT, 'src');
const DIST = join(PROJECT, 'dist');

/** The newest mtime (ms) of src/ and every file and directory under it: what bin/umlbuild compares with the stamp. */
export async function newestSourceMtime(dir = SRC): Promise<number> {
  let newest = (await stat(dir)).mtimeMs;
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? await newestSourceMtime(p) : (await stat(p)).mtimeMs);
  }
  return newest;
}

/** `import.meta.url` of a src/ module as the URL of its compiled file in dist/ (relative to the bundle's files, in dist/bundle/). */
const metaUrl: Plugin = {
  name: 'import-meta-url-as-in-dist',
  setup(b) {
    b.onLoad({ filter: /\/src\/.*\.ts$/ }, async (args) => {
      const text = await readFile(args.path, 'utf8');
      if (!text.includes('import.meta.url')) return undefined;
      const compiled = `../${relative(SRC, args.path).replace(/\.ts$/, '.js')}`;
      return { contents: text.replaceAll('import.meta.url', `new URL(${JSON.stringify(compiled)}, __umlbuildUrl).href`), loader: 'ts' };
    });
  },
};

/**
 * zod's locales: its namespace `z` re-exports all ~60 (`z.locales`), so
 * bundling `z` would take every one; umlbuild's messages are English and it
 * reads no other locale: the bundle gets zod's `en` only (about a third of
 * zod's size in the bundle).
 */
const zodEnglishOnly: Plugin = {
  name: 'zod-english-only',
  setup(b) {
    b.onLoad({ filter: /[/\\]zod[/\\]v4[/\\]locales[/\\]index\.js$/ }, () => ({ contents: "export { default as en } from './en.js';\n", loader: 'js' }));
  },
};

/**
 * Bundle src/cli.ts into `dist`/bundle/ (with its code cache and the stamp)
 * and copy the templates to `dist`/templates/; `dist`/../bin/umlbuild makes
 * the code cache.
 */
export async function bundle(dist = DIST): Promise<void> {
  const newest = await newestSourceMtime();
  const out = join(dist, 'bundle');
  await rm(out, { recursive: true, force: true });
  await mkdir(join(dist, 'templates'), { recursive: true });
  await build({
    entryPoints: [join(SRC, 'cli.ts')],
    outfile: join(out, 'umlbuild.cjs'),
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    logLevel: 'warning',
    legalComments: 'none',
    plugins: [metaUrl, zodEnglishOnly],
    banner: { js: "const __umlbuildUrl = require('node:url').pathToFileURL(__filename).href;" },
  });
  // An import() esbuild leaves (of a node: module) would fail in the bundle: node:vm runs import() only without a code cache.
  const left = (await readFile(join(out, 'umlbuild.cjs'), 'utf8')).match(/\bimport\s*\(\s*["'`][^"'`]*["'`]\s*\)/g);
  if (left) throw new Error(`the bundle would run import() of ${left.join(', ')}: import it statically (node: modules load fast) or from a module esbuild bundles`);
  for (const f of await readdir(join(SRC, 'templates'))) if (f.endsWith('.ejs')) await copyFile(join(SRC, 'templates', f), join(dist, 'templates', f));
  // The code cache of what `umlbuild recipes` compiles: the command line, the recipe loader, yaml and zod.
  const r = await exec(join(dist, '..', 'bin', 'umlbuild'), ['recipes'], { reject: false, env: { UMLBUILD_DIST: '1', UMLBUILD_CODE_CACHE: 'write' } });
  if (r.exitCode !== 0 || !existsSync(join(out, 'umlbuild.cjs.cache'))) throw new Error(`the bundle's first run (umlbuild recipes) failed, exit ${r.exitCode}:\n${r.stderr}`);
  await writeFile(join(out, 'stamp'), `${JSON.stringify(newest)}\n`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await bundle();
