/** Find the image and manifest that `umlbuild test` / `boot` were pointed at. */
import { existsSync, statSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { UserError, EXIT } from '../errors.js';
import { launchSchema, type LaunchConfig } from '../launch/schema.js';
import { testSchema, type TestConfig } from '../recipe/schema.js';

export interface BuiltImage {
  image: string;
  /** A COW variant's own layer over `image`. */
  cow?: string;
  /** A hostfs-root build: the directory UML boots (`image` is the same path). */
  hostfsRoot?: string;
  manifestFile: string;
  script: string;
  name: string;
  umid: string;
  recipeFile?: string;
  variables: Record<string, unknown>;
  launch: LaunchConfig;
  test: TestConfig;
}

export async function findBuiltImage(target: string): Promise<BuiltImage> {
  const path = resolve(target);
  if (!existsSync(path)) throw new UserError(`${target} does not exist`, EXIT.invalid);
  let manifestFile: string;
  const rootManifest = path.replace(/\.root\/*$/, '') + '.manifest.json';
  if (/\.root\/*$/.test(path) && existsSync(rootManifest)) {
    manifestFile = rootManifest; // a hostfs root tree
  } else if (statSync(path).isDirectory()) {
    let manifests = (await readdir(path)).filter((f) => f.endsWith('.manifest.json'));
    if (manifests.length > 1) {
      // A base and its COW variants: the directory means the base.
      const bases: string[] = [];
      for (const f of manifests) if (!(JSON.parse(await readFile(join(path, f), 'utf8')) as { kind?: string }).kind) bases.push(f);
      manifests = bases;
    }
    if (manifests.length !== 1) {
      throw new UserError(`${target}: expected one *.manifest.json, found ${manifests.length ? manifests.join(', ') : 'none'}; name the image instead`, EXIT.invalid);
    }
    manifestFile = join(path, manifests[0]!);
  } else {
    manifestFile = path.replace(/\.(img|cow)$/, '') + '.manifest.json';
    if (!existsSync(manifestFile)) throw new UserError(`${target}: no manifest beside it (${manifestFile}); was it built by umlbuild?`, EXIT.invalid);
  }
  const m = JSON.parse(await readFile(manifestFile, 'utf8')) as {
    recipe?: { name?: string; file?: string };
    kind?: string;
    image?: { file?: string; kind?: string };
    cow?: { file?: string };
    umid?: string;
    variables?: Record<string, unknown>;
    launch?: Record<string, unknown> & { script?: string };
    test?: Record<string, unknown>;
  };
  const dir = resolve(manifestFile, '..');
  const image = join(dir, m.image?.file ?? '');
  if (!m.image?.file || !existsSync(image)) throw new UserError(`${manifestFile}: its image ${image} is missing`);
  const { script, ...launch } = m.launch ?? {};
  const hostfsRoot = m.image?.kind === 'hostfs' ? image : undefined;
  const cow = m.kind === 'cow-variant' && m.cow?.file ? join(dir, m.cow.file) : undefined;
  if (cow && !existsSync(cow)) throw new UserError(`${manifestFile}: its COW file ${cow} is missing`);
  return {
    image,
    cow,
    hostfsRoot,
    manifestFile,
    script: join(dir, script ?? ''),
    name: m.recipe?.name ?? 'uml',
    umid: m.umid ?? m.recipe?.name ?? 'uml',
    recipeFile: m.recipe?.file,
    variables: m.variables ?? {},
    launch: launchSchema.parse(launch),
    test: testSchema.parse(m.test ?? {}),
  };
}
