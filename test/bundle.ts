/**
 * The command line bundled: dist/bundle/umlbuild.js, one ES module entry for
 * src/cli.ts, with everything it loads (our modules and the packages from
 * node_modules) in it and in a few dozen chunks beside it, so that starting
 * `umlbuild` reads a few files instead of some 300 (issue 15: a warm build in
 * under a second, most of it start-up). What a command loads with `import()`
 * when it runs is a chunk of its own, loaded then: `--version` and `--help`
 * load the entry and commander only. The templates are copied to
 * dist/templates/.
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
import { copyFile, mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Plugin } from 'esbuild';

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
      return { contents: text.replaceAll('import.meta.url', `new URL(${JSON.stringify(compiled)}, import.meta.url).href`), loader: 'ts' };
    });
  },
};

/** Bundle src/cli.ts into `dist`/bundle/ (with the stamp) and copy the templates to `dist`/templates/. */
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

export async function bundle(dist = DIST): Promise<void> {
  const newest = await newestSourceMtime();
  const out = join(dist, 'bundle');
  await rm(out, { recursive: true, force: true });
  await mkdir(join(dist, 'templates'), { recursive: true });
  await build({
    entryPoints: { umlbuild: join(SRC, 'cli.ts') },
    outdir: out,
    splitting: true,
    chunkNames: 'chunk-[hash]',
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    logLevel: 'warning',
    legalComments: 'none',
    plugins: [metaUrl, zodEnglishOnly],
    // The CommonJS packages (commander, ejs, ...) require node's modules: give the bundle a require.
    banner: { js: "import { createRequire as __umlbuildRequire } from 'node:module';\nconst require = __umlbuildRequire(import.meta.url);" },
  });
  for (const f of await readdir(join(SRC, 'templates'))) if (f.endsWith('.ejs')) await copyFile(join(SRC, 'templates', f), join(dist, 'templates', f));
  await writeFile(join(out, 'stamp'), `${JSON.stringify(newest)}\n`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await bundle();
