/**
 * Output files: built under temporary names beside the final ones and renamed
 * only when everything succeeded, so a failed build leaves no half image and
 * an older good image survives.
 */
import { EXIT, UserError } from '../errors.js';
import { partialPath, writeNew } from '../host/safe-write.js';
import { removeTree } from '../host/remove-tree.js';
import { existsSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { exec } from '../host/exec.js';
import { dirname, isAbsolute, resolve } from 'node:path';

export interface OutputPaths {
  image: string;
  /** The root directory of a hostfs build. */
  root: string;
  script: string;
  manifest: string;
}

/** `ext` is the image's extension: `.img`, or what a pack step writes (`.tar.zst`, `.squashfs`). */
export function outputPaths(outDir: string, output: string, ext = '.img'): OutputPaths {
  // The output is a file name in outDir (checked when the recipe is loaded): never a path elsewhere.
  const base = resolve(outDir, output);
  if (dirname(base) !== resolve(outDir) || isAbsolute(output)) throw new UserError(`output ${JSON.stringify(output)} is not a file name in ${outDir}`, EXIT.invalid);
  return { image: `${base}${ext}`, root: `${base}.root`, script: `${base}.sh`, manifest: `${base}.manifest.json` };
}

/** `dir/.name.partial-<run id>` beside `dir/name`. */
export { partialPath };

export function partialPaths(p: OutputPaths): OutputPaths {
  return { image: partialPath(p.image), root: partialPath(p.root), script: partialPath(p.script), manifest: partialPath(p.manifest) };
}

export async function prepareOutputDir(p: OutputPaths): Promise<void> {
  await mkdir(dirname(p.image), { recursive: true });
}

export async function removePartials(p: OutputPaths): Promise<void> {
  await Promise.all([p.image, p.script, p.manifest].map((f) => rm(f, { force: true })));
  // A partial root tree: unmount what is left below it, never cross into a mount.
  if (existsSync(p.root)) await removeTree(p.root);
}

/** Write script and manifest beside the partial image (or root tree), then rename all three. */
export async function commitOutputs(partial: OutputPaths, final: OutputPaths, script: string, manifest: string, hostfs = false): Promise<void> {
  // Fresh names (O_EXCL|O_NOFOLLOW), renamed over the final ones: a planted link is replaced, never written through.
  await writeNew(partial.script, script, 0o755);
  await writeNew(partial.manifest, manifest, 0o644);
  if (hostfs) {
    // A directory cannot be renamed over a non-empty one: swap, then remove the old tree.
    const old = `${partial.root}.old`;
    if (existsSync(final.root)) await rename(final.root, old);
    await rename(partial.root, final.root);
    if (existsSync(old)) await exec('rm', ['-rf', '--one-file-system', old]);
  } else await rename(partial.image, final.image);
  await rename(partial.script, final.script);
  await rename(partial.manifest, final.manifest);
}
