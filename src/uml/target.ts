/**
 * Find the image and manifest that `umlbuild test` / `boot` were pointed at.
 * The manifest is checked (manifest-schema.ts); every file it names must be a
 * file (not a link) in its own directory.
 */
import { existsSync, statSync } from 'node:fs';
import { lstat, readdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { UserError, EXIT } from '../errors.js';
import type { LaunchConfig } from '../launch/schema.js';
import type { TestConfig } from '../model/test-config.js';
import { manifestKind } from '../model/manifest.js';
import { checkManifest } from './manifest-schema.js';
import { treeOwner } from './guest.js';

export interface BuiltImage {
  image: string;
  /** A COW variant's own layer over `image`. */
  cow?: string;
  /** A hostfs-root build: the directory UML boots (`image` is the same path). */
  hostfsRoot?: string;
  manifestFile: string;
  script: string;
  /** The launch script's sha256 as recorded at build time. */
  scriptSha256?: string;
  name: string;
  umid: string;
  recipeFile?: string;
  variables: Record<string, unknown>;
  /** Secret variables that were generated or given at build time (the manifest's `passwords`). */
  passwords: Record<string, 'generated' | 'given'>;
  /** As recorded (disk names relative to the manifest's directory). */
  launch: LaunchConfig;
  /** launch.disks resolved and checked: files (not links) in the manifest's directory. */
  diskFiles: { file: string; cow?: string }[];
  test: TestConfig;
  /** The image's filesystem as the manifest records it (ext4, squashfs). */
  fs?: string;
  /** The image's own kernel (a `kernel` step built it): files (not links) beside the manifest, with the checksums it records. */
  kernel?: { file: string; sha256: string; release?: string; config?: string; configSha256?: string };
}

export async function findBuiltImage(target: string): Promise<BuiltImage> {
  const path = resolve(target);
  if (!existsSync(path)) throw new UserError(`${target} does not exist`, EXIT.invalid);
  let manifestFile: string;
  const rootManifest = `${path.replace(/\.root\/*$/, '')}.manifest.json`;
  if (/\.root\/*$/.test(path) && existsSync(rootManifest)) {
    manifestFile = rootManifest; // a hostfs root tree
  } else if (statSync(path).isDirectory()) {
    let manifests = (await readdir(path)).filter((f) => f.endsWith('.manifest.json'));
    if (manifests.length > 1) {
      // A base and its COW variants: the directory means the base.
      const bases: string[] = [];
      for (const f of manifests) if (!(await readFile(join(path, f), 'utf8').then(manifestKind, () => 'unreadable'))) bases.push(f);
      manifests = bases;
    }
    if (manifests.length !== 1) {
      throw new UserError(`${target}: expected one *.manifest.json, found ${manifests.length ? manifests.join(', ') : 'none'}; name the image instead`, EXIT.invalid);
    }
    manifestFile = join(path, manifests[0]!);
  } else {
    manifestFile = `${path.replace(/\.(img|cow)$/, '')}.manifest.json`;
    if (!existsSync(manifestFile)) throw new UserError(`${target}: no manifest beside it (${manifestFile}); was it built by umlbuild?`, EXIT.invalid);
  }
  const m = checkManifest(manifestFile, await readFile(manifestFile, 'utf8'));
  const dir = resolve(manifestFile, '..');
  const hostfs = m.image.kind === 'hostfs';
  const image = await outputFile(manifestFile, dir, m.image.file, 'image', hostfs);
  // Booted as its owner: refused up front when that is root.
  if (hostfs) await treeOwner(image, manifestFile);
  const cow = m.kind === 'cow-variant' && m.cow ? await outputFile(manifestFile, dir, m.cow.file, 'COW file') : undefined;
  const { script, script_sha256: scriptSha256, ...launch } = m.launch;
  const diskFiles = [];
  for (const d of launch.disks) {
    diskFiles.push({ file: await outputFile(manifestFile, dir, d.file, 'disk'), cow: d.cow === undefined ? undefined : await outputFile(manifestFile, dir, d.cow, 'disk COW file') });
  }
  const k = m.kernel;
  const kernel = k?.file
    ? {
        file: await outputFile(manifestFile, dir, k.file, 'kernel'),
        sha256: k.sha256!,
        release: k.release,
        config: k.config === undefined ? undefined : await outputFile(manifestFile, dir, k.config, 'kernel config'),
        configSha256: k.config_sha256,
      }
    : undefined;
  const fs = (m.image as { fs?: unknown }).fs;
  return {
    image,
    cow,
    kernel,
    fs: typeof fs === 'string' ? fs : undefined,
    hostfsRoot: hostfs ? image : undefined,
    manifestFile,
    script: join(dir, script),
    scriptSha256,
    name: (m.kind === 'cow-variant' ? m.variant : m.recipe?.name) ?? 'uml',
    umid: m.umid ?? m.recipe?.name ?? 'uml',
    recipeFile: m.recipe?.file,
    variables: m.variables,
    passwords: m.passwords,
    launch,
    diskFiles,
    test: m.test,
  };
}

/** A file (or the hostfs root directory) of the output, beside the manifest: it must exist and not be a link. */
async function outputFile(manifestFile: string, dir: string, name: string, what: string, directory = false): Promise<string> {
  const path = join(dir, name);
  const st = await lstat(path).catch(() => undefined);
  if (!st) throw new UserError(`${manifestFile}: its ${what} ${path} is missing`);
  if (st.isSymbolicLink()) throw new UserError(`${manifestFile}: its ${what} ${path} is a symbolic link; umlbuild boots only files it made`, EXIT.invalid);
  if (directory ? !st.isDirectory() : !st.isFile()) throw new UserError(`${manifestFile}: its ${what} ${path} is not a ${directory ? 'directory' : 'regular file'}`, EXIT.invalid);
  return path;
}
