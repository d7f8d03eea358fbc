/**
 * Startup: `umlbuild --version` and `--help` load commander and the command
 * declarations only; each command loads the library when it runs. Checked on
 * the import graph (what `import` loads before any code runs), not on time:
 * the time is measured by `npm run bench:startup`.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { PROJECT } from '../helpers.js';

/** Modules a file loads as it is imported: static imports and re-exports, not `import type`/`export type`, not `import()`. */
function staticImports(source: string): string[] {
  const specs: string[] = [];
  for (const m of source.matchAll(/(?:^|\n)[ \t]*(import|export)\b(\s+type\b)?([^'"`;]*?)\bfrom\s*['"]([^'"]+)['"]|(?:^|\n)[ \t]*import\s+['"]([^'"]+)['"]/g)) {
    if (m[5]) specs.push(m[5]);
    else if (!m[2]) specs.push(m[4]!);
  }
  return specs;
}

/** Every file of ours and every package that loading `entry` loads, following static imports only. */
async function loadedBy(entry: string): Promise<{ files: string[]; packages: string[] }> {
  const files = new Set<string>();
  const packages = new Set<string>();
  const todo = [entry];
  while (todo.length) {
    const file = todo.pop()!;
    if (files.has(file)) continue;
    files.add(file);
    for (const spec of staticImports(await readFile(file, 'utf8'))) {
      if (spec.startsWith('node:')) continue;
      if (!spec.startsWith('.')) {
        packages.add(spec);
        continue;
      }
      const ts = resolve(dirname(file), spec.replace(/\.js$/, '.ts'));
      assert.ok(existsSync(ts), `${relative(PROJECT, file)} imports ${spec}: no ${relative(PROJECT, ts)}`);
      todo.push(ts);
    }
  }
  return { files: [...files].map((f) => relative(PROJECT, f)).sort(), packages: [...packages].sort() };
}

describe('startup: the command line loads the library lazily', () => {
  it('loading src/cli.ts loads commander and no other package (zod, execa, listr2, yaml, ejs load when a command runs)', async () => {
    const { files, packages } = await loadedBy(join(PROJECT, 'src/cli.ts'));
    assert.deepEqual(packages, ['commander'], `loaded at startup by ${files.join(', ')}`);
  });

  it('of ours, only the command declarations and api/basics.ts (with the few small modules it re-exports)', async () => {
    const { files } = await loadedBy(join(PROJECT, 'src/cli.ts'));
    const beyond = files.filter(
      (f) => !f.startsWith('src/cli') && !['src/api/basics.ts', 'src/version.ts', 'src/errors.ts', 'src/host/secrets.ts', 'src/model/hook-stages.ts', 'src/model/on-failure.ts', 'src/model/shells.ts', 'src/model/names.ts'].includes(f),
    );
    assert.deepEqual(beyond, []);
  });

  it('the import reader tells type-only imports and import() from loading ones', () => {
    assert.deepEqual(
      staticImports(
        "import type { A } from './a.js';\nimport { type B, c } from './b.js';\nexport { d } from './d.js';\nexport type { E } from './e.js';\nimport {\n  f,\n  g,\n} from 'pkg';\nimport './side.js';\nconst h = await import('./h.js');\n",
      ),
      ['./b.js', './d.js', 'pkg', './side.js'],
    );
  });
});
