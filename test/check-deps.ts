/**
 * The dependency rule of DESIGN.md ("The shape of the code"), checked with
 * dpdm: no import cycle (type-only imports included: dpdm parses the
 * TypeScript, transform off), and no import that points up the layers
 *
 *   cli -> api -> engine -> recipe -> steps -> kernel -> edits/cache -> uml -> templates -> host -> model
 *
 * A file may import files of its own layer or of a lower one. Today's
 * directories are mapped to those layers in LAYERS; edges that cannot point
 * down until the restructuring of issue 13 (items 1-3) lands are listed, each
 * with its reason, in ALLOWED, so that any NEW upward import fails. An entry
 * that no longer matches an import fails too: delete it.
 *
 * `npm run lint:deps` (part of `npm test`); test/unit/architecture.test.ts
 * runs it on src/ and on small trees that must fail.
 */
import { relative, resolve } from 'node:path';
import { parseCircular, parseDependencyTree } from 'dpdm';

/** Layer ranks: a higher rank may import a lower or equal one. */
export const LAYERS: { layer: string; rank: number; paths: string[] }[] = [
  { layer: 'cli', rank: 10, paths: ['src/cli.ts', 'src/cli/'] },
  // api/: the library calls behind the commands; index.ts (the package entry) re-exports the public ones.
  { layer: 'api', rank: 9, paths: ['src/index.ts', 'src/api.ts', 'src/api/'] },
  // output/: the manifest writer (a build output; its schema goes to model/ in item 3).
  // doctor.ts: `umlbuild doctor` (host checks plus the kernel modules step's needs).
  // plan-text.ts: `umlbuild plan` (renders a Plan with the manifest's public variables).
  // lab/: labs of machines (issue 16): the lab file and Netkit loaders, the runtime.
  { layer: 'engine', rank: 8, paths: ['src/engine/', 'src/runner/', 'src/lab/', 'src/output/', 'src/doctor.ts', 'src/plan-text.ts'] },
  // schema.ts: the recipe JSON schema, from the recipe, launch and step schemas; steps-text.ts: `umlbuild steps`.
  { layer: 'recipe', rank: 7, paths: ['src/recipe/', 'src/schema.ts', 'src/steps-text.ts'] },
  { layer: 'steps', rank: 6, paths: ['src/steps/'] },
  // kernel/: building UML kernels from source and their cache (uses cache/ and uml/guest; the kernel step uses it).
  { layer: 'kernel', rank: 5.5, paths: ['src/kernel/'] },
  { layer: 'edits/cache', rank: 5, paths: ['src/edits/', 'src/cache/'] },
  { layer: 'uml', rank: 4, paths: ['src/uml/'] },
  // templates/: EJS files and their renderer (ejs only): the template step and the launch script render with it.
  { layer: 'templates', rank: 3.5, paths: ['src/templates/'] },
  // errors.ts redacts secrets with host/secrets (DESIGN's model/errors comes with item 3).
  { layer: 'host', rank: 3, paths: ['src/host/', 'src/errors.ts'] },
  // version.ts reads package.json and imports nothing of ours.
  // launch/: the launch section's schema and the UML arguments it implies (pure: zod and model/ only).
  { layer: 'model', rank: 1, paths: ['src/model/', 'src/launch/', 'src/version.ts'] },
];

/** Upward imports that stay until items 1-3 of issue 13 move things; `from -> to` as repository paths. */
export const ALLOWED: { from: string; to: string; why: string }[] = [];

export interface DepReport {
  cycles: string[][];
  upward: { from: string; to: string; fromLayer: string; toLayer: string }[];
  /** Files under src/ that no layer claims. */
  unmapped: string[];
  /** Relative imports dpdm could not resolve (the check would be blind to them). */
  unresolved: string[];
  /** ALLOWED entries that match no import any more. */
  stale: string[];
}

export function layerOf(file: string, layers = LAYERS): { layer: string; rank: number } | undefined {
  return layers.find((l) => l.paths.some((p) => (p.endsWith('/') ? file.startsWith(p) : file === p)));
}

/** Check every .ts file under `root`/src (paths in the report are relative to root). */
export async function checkDeps(root: string, layers = LAYERS, allowed = ALLOWED): Promise<DepReport> {
  const abs = resolve(root);
  const tree = await parseDependencyTree(['src/**/*.ts'], { cwd: abs, context: abs, transform: false, skipDynamicImports: false });
  const files = Object.keys(tree).filter((f) => f.startsWith('src/'));
  const report: DepReport = { cycles: parseCircular(tree), upward: [], unmapped: [], unresolved: [], stale: [] };
  const used = new Set<string>();
  for (const file of files) {
    const from = layerOf(file, layers);
    if (!from) report.unmapped.push(file);
    for (const dep of tree[file] ?? []) {
      if (dep.id === null) {
        if (dep.request.startsWith('.')) report.unresolved.push(`${file}: ${dep.request}`);
        continue;
      }
      const to = relative(abs, resolve(abs, dep.id));
      if (!to.startsWith('src/')) continue;
      const target = layerOf(to, layers);
      if (!from || !target || target.rank <= from.rank) continue;
      const ok = allowed.find((a) => a.from === file && a.to === to);
      if (ok) used.add(`${ok.from} -> ${ok.to}`);
      else report.upward.push({ from: file, to, fromLayer: from.layer, toLayer: target.layer });
    }
  }
  report.stale = allowed.map((a) => `${a.from} -> ${a.to}`).filter((e) => !used.has(e));
  return report;
}

export function problems(r: DepReport): string[] {
  return [
    ...r.cycles.map((c) => `import cycle: ${[...c, c[0]].join(' -> ')}`),
    ...r.upward.map((u) => `upward import: ${u.from} (${u.fromLayer}) -> ${u.to} (${u.toLayer})`),
    ...r.unmapped.map((f) => `no layer for ${f}: add it to LAYERS in test/check-deps.ts`),
    ...r.unresolved.map((f) => `unresolved import ${f}`),
    ...r.stale.map((e) => `allowed upward import no longer exists, delete it from ALLOWED: ${e}`),
  ];
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(new URL(import.meta.url).pathname)) {
  const found = problems(await checkDeps(process.cwd()));
  for (const p of found) console.error(p);
  if (found.length) {
    console.error(`${found.length} dependency problem(s); the layers are in test/check-deps.ts (see DESIGN.md "The shape of the code")`);
    process.exit(1);
  }
  console.log('dependencies: no cycles, no upward imports');
}
