/**
 * Output files: built under temporary names beside the final ones and renamed
 * only when everything succeeded, so a failed build leaves no half image and
 * an older good image survives.
 */
import { EXIT, UserError } from '../errors.js';
import { partialPath, writeNew } from '../host/safe-write.js';
import { removeTree } from '../host/remove-tree.js';
import { existsSync } from 'node:fs';
import { lstat, mkdir, rename, rm } from 'node:fs/promises';
import { exec } from '../host/exec.js';
import { dirname, isAbsolute, resolve } from 'node:path';

export interface OutputPaths {
  image: string;
  /** The root directory of a hostfs build. */
  root: string;
  script: string;
  manifest: string;
  /** The image's block map (host/bmap), when the manifest records one. */
  bmap: string;
}

/** `ext` is the image's extension: `.img`, or what a pack step writes (`.tar.zst`, `.squashfs`). */
export function outputPaths(outDir: string, output: string, ext = '.img'): OutputPaths {
  // The output is a file name in outDir (checked when the recipe is loaded): never a path elsewhere.
  const base = resolve(outDir, output);
  if (dirname(base) !== resolve(outDir) || isAbsolute(output)) throw new UserError(`output ${JSON.stringify(output)} is not a file name in ${outDir}`, EXIT.invalid);
  return { image: `${base}${ext}`, root: `${base}.root`, script: `${base}.sh`, manifest: `${base}.manifest.json`, bmap: `${base}${ext}.bmap` };
}

/** `dir/.name.partial-<run id>` beside `dir/name`. */
export { partialPath };

export function partialPaths(p: OutputPaths): OutputPaths {
  return { image: partialPath(p.image), root: partialPath(p.root), script: partialPath(p.script), manifest: partialPath(p.manifest), bmap: partialPath(p.bmap) };
}

export async function prepareOutputDir(p: OutputPaths): Promise<void> {
  await mkdir(dirname(p.image), { recursive: true });
}

export async function removePartials(p: OutputPaths): Promise<void> {
  await Promise.all([p.image, p.script, p.manifest, p.bmap].map((f) => rm(f, { force: true })));
  // A partial root tree: unmount what is left below it, never cross into a mount.
  if (existsSync(p.root)) await removeTree(p.root);
}

/**
 * Rename the new image over the old one. Not with one rename: ext4 (its
 * default auto_da_alloc) makes a rename that replaces a file write the new
 * file's data out first and wait for it, ~0.4 s for a warm build's fresh
 * copy. The old image is moved aside to a dot name first (a rename onto no
 * file, which does not flush), so for a moment there is no image under the
 * final name; then removed.
 */
async function replaceImage(from: string, to: string): Promise<void> {
  const old = `${from}.old`;
  // Only a file or a link is moved aside; anything else (a directory) the rename refuses as before.
  const st = await lstat(to).catch(() => undefined);
  const moved = Boolean(st && (st.isFile() || st.isSymbolicLink()));
  if (moved) await rename(to, old);
  try {
    await rename(from, to);
  } catch (e) {
    if (moved) await rename(old, to);
    throw e;
  }
  if (moved) await rm(old, { force: true });
}

/** Write script and manifest beside the partial image (or root tree), then rename all three. */
export async function commitOutputs(partial: OutputPaths, final: OutputPaths, script: string, manifest: string, hostfs = false, bmap?: string): Promise<void> {
  // Fresh names (O_EXCL|O_NOFOLLOW), renamed over the final ones: a planted link is replaced, never written through.
  await writeNew(partial.script, script, 0o755);
  await writeNew(partial.manifest, manifest, 0o644);
  if (bmap !== undefined) await writeNew(partial.bmap, bmap, 0o644);
  if (hostfs) {
    // A directory cannot be renamed over a non-empty one: swap, then remove the old tree.
    const old = `${partial.root}.old`;
    if (existsSync(final.root)) await rename(final.root, old);
    await rename(partial.root, final.root);
    if (existsSync(old)) await exec('rm', ['-rf', '--one-file-system', old]);
  } else await replaceImage(partial.image, final.image);
  // The block map before the manifest that names it; a build without one leaves none of an older build behind.
  if (bmap !== undefined) await rename(partial.bmap, final.bmap);
  else if (!hostfs) await rm(final.bmap, { force: true });
  await rename(partial.script, final.script);
  await rename(partial.manifest, final.manifest);
}
