/**
 * src/ compiled for the test run, file by file, into cov-src/ (beside src/, with a stamp, as test/bundle.ts does for
 * the bundle): what bin/umlbuild runs while coverage is measured (NODE_V8_COVERAGE, c8), instead of src/ through tsx.
 *
 * Why: `npm test` starts the command line some 370 times, and tsx's module hooks made each start cost 1.5-2 s of CPU
 * on the 2-core test host (`umlbuild validate recipes/busybox.yml` under NODE_V8_COVERAGE: 1.6 s through tsx, 0.75 s
 * from these files). The code is byte for byte what tsx runs: each module goes through tsx's own transform (its
 * esbuild options and its interop for import()), with its source map inline. So the coverage of cov-src/X.js is that
 * of src/X.ts under another URL: test/support/coverage-urls.ts gives it the src/ URL at the end of the run, and c8
 * merges it with the rest as when every process ran src/ through tsx (the same code, the same source map: the same
 * ranges). cov-src/ sits beside src/, so what a module finds from its import.meta.url (../recipes/, ../overlays/,
 * ../package.json, the templates copied beside it) is the same; the modules import each other as ./x.js, as in src/.
 * Without that transform (another tsx), nothing is compiled and bin/umlbuild runs src/ through tsx as before.
 *
 *   tsx test/cov-src.ts        (npm test runs it before c8)
 */
import { copyFile, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { newestSourceMtime } from './bundle.js';

const PROJECT = fileURLToPath(new URL('..', import.meta.url));
const SRC = join(PROJECT, 'src');
export const COV_SRC = join(PROJECT, 'cov-src');

type Transform = (code: string, file: string) => Promise<{ code: string; map: unknown }>;

/** tsx's transform of an ES module (what its loader runs a .ts file through), from its dist/ chunk that has it. */
async function tsxTransform(): Promise<Transform | undefined> {
  const dist = join(dirname(createRequire(import.meta.url).resolve('tsx/package.json')), 'dist');
  for (const f of (await readdir(dist)).filter((n) => n.endsWith('.mjs'))) {
    const text = await readFile(join(dist, f), 'utf8');
    // The chunk exports it as `t`: the async transform whose last step adds the interop to import() (tsx 4).
    if (!/\bas t\b/.test(text) || !text.includes('"transformSync"') || !text.includes('__esModule')) continue;
    const m = (await import(pathToFileURL(join(dist, f)).href)) as { t?: unknown };
    if (typeof m.t === 'function') return m.t as Transform;
  }
  return undefined;
}

async function sources(dir: string): Promise<string[]> {
  const files: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) files.push(...(await sources(p)));
    else files.push(p);
  }
  return files;
}

export async function compileForCoverage(out = COV_SRC): Promise<number> {
  // Read before any source is: a file changed while this runs makes the stamp old, and bin/umlbuild takes src/.
  const newest = await newestSourceMtime(SRC);
  await rm(out, { recursive: true, force: true });
  const transform = await tsxTransform();
  if (!transform) return 0;
  const files = await sources(SRC);
  await Promise.all(
    files.map(async (file) => {
      const dest = join(out, relative(SRC, file).replace(/\.ts$/, '.js'));
      await mkdir(dirname(dest), { recursive: true });
      if (!file.endsWith('.ts')) return copyFile(file, dest);
      const source = await readFile(file, 'utf8');
      const r = await transform(source, file);
      // tsx puts the source in the map when coverage is measured (this runs before c8): the same map, with it.
      const map = { ...((typeof r.map === 'string' ? JSON.parse(r.map) : r.map) as object), sourcesContent: [source] };
      const inline = Buffer.from(JSON.stringify(map)).toString('base64');
      await writeFile(dest, `${r.code}\n//# sourceMappingURL=data:application/json;base64,${inline}\n`);
    }),
  );
  await writeFile(join(out, 'stamp'), `${JSON.stringify(newest)}\n`);
  return files.filter((f) => f.endsWith('.ts')).length;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const n = await compileForCoverage();
  if (!n) process.stdout.write('test/cov-src.ts: this tsx has no transform it can use: bin/umlbuild runs src/ through tsx under coverage\n');
  else process.stdout.write(`compiled ${n} modules of src/ into ${relative(PROJECT, COV_SRC)}/ (what bin/umlbuild runs under coverage)\n`);
}
