/**
 * At the end of a mocha run that measures coverage (NODE_V8_COVERAGE, c8): the coverage the command line's
 * processes wrote for cov-src/X.js (test/cov-src.ts: src/X.ts compiled byte for byte as tsx compiles it, which
 * bin/umlbuild runs under coverage) is given src/X.ts's URL, the one tsx's processes use. c8 then merges it with
 * the coverage of src/X.ts from every other process, as it did when they all ran src/ through tsx (the same code,
 * the same source map: the same ranges). Registered in .mocharc.json; c8 reports after mocha exits.
 */
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const PROJECT = fileURLToPath(new URL('../..', import.meta.url));

export async function mochaGlobalTeardown(): Promise<void> {
  const dir = process.env.NODE_V8_COVERAGE;
  if (!dir) return;
  const from = pathToFileURL(join(PROJECT, 'cov-src')).href;
  const to = pathToFileURL(join(PROJECT, 'src')).href;
  // "file:///.../cov-src/a/b.js" (a script's url, a source-map-cache key) -> "file:///.../src/a/b.ts"
  const url = new RegExp(`"${from.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}/([^"]*)\\.js"`, 'g');
  const files = (await readdir(dir).catch(() => [] as string[])).filter((f) => f.endsWith('.json'));
  for (const f of files) {
    const path = join(dir, f);
    const text = await readFile(path, 'utf8');
    if (!text.includes(from)) continue;
    await writeFile(
      path,
      text.replace(url, (_, rel: string) => `"${to}/${rel}.ts"`),
    );
  }
}
