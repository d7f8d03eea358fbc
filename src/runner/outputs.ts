/**
 * Output files: built under temporary names beside the final ones and renamed
 * only when everything succeeded, so a failed build leaves no half image and
 * an older good image survives.
 */
import { EXIT, UserError } from '../errors.js';
import { partialPath, writeNew } from '../host/safe-write.js';
import { removeTree } from '../host/remove-tree.js';
import { constants, existsSync } from 'node:fs';
import { chmod, copyFile, lstat, mkdir, rename, rm } from 'node:fs/promises';
import { exec } from '../host/exec.js';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { openRegularFile } from '../host/pinned-file.js';
import { sha256File } from '../host/hashing.js';
import type { BuiltKernel } from '../model/kernel.js';

export interface OutputPaths {
  image: string;
  /** The root directory of a hostfs build. */
  root: string;
  script: string;
  manifest: string;
  /** The image's block map (host/bmap), when the manifest records one. */
  bmap: string;
  /** The recipe's own kernel (a `kernel` step built it), its config and System.map, when the manifest records them. */
  kernel: string;
  kernelConfig: string;
  systemMap: string;
}

/** The kernel files as the manifest records them (plain names beside it). */
export interface KernelOutput {
  file: string;
  sha256: string;
  config: string;
  configSha256: string;
  systemMap?: string;
}

/** `ext` is the image's extension: `.img`, or what a pack step writes (`.tar.zst`, `.squashfs`). */
export function outputPaths(outDir: string, output: string, ext = '.img'): OutputPaths {
  // The output is a file name in outDir (checked when the recipe is loaded): never a path elsewhere.
  const base = resolve(outDir, output);
  if (dirname(base) !== resolve(outDir) || isAbsolute(output)) throw new UserError(`output ${JSON.stringify(output)} is not a file name in ${outDir}`, EXIT.invalid);
  return {
    image: `${base}${ext}`,
    root: `${base}.root`,
    script: `${base}.sh`,
    manifest: `${base}.manifest.json`,
    bmap: `${base}${ext}.bmap`,
    kernel: `${base}.linux`,
    kernelConfig: `${base}.linux.config`,
    systemMap: `${base}.System.map`,
  };
}

/** `dir/.name.partial-<run id>` beside `dir/name`. */
export { partialPath };

export function partialPaths(p: OutputPaths): OutputPaths {
  return {
    image: partialPath(p.image),
    root: partialPath(p.root),
    script: partialPath(p.script),
    manifest: partialPath(p.manifest),
    bmap: partialPath(p.bmap),
    kernel: partialPath(p.kernel),
    kernelConfig: partialPath(p.kernelConfig),
    systemMap: partialPath(p.systemMap),
  };
}

export async function prepareOutputDir(p: OutputPaths): Promise<void> {
  await mkdir(dirname(p.image), { recursive: true });
}

export async function removePartials(p: OutputPaths): Promise<void> {
  await Promise.all([p.image, p.script, p.manifest, p.bmap, p.kernel, p.kernelConfig, p.systemMap].map((f) => rm(f, { force: true })));
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

/** Copy a regular file (never through a link) to a fresh name with `mode`; its sha256. */
export async function copyKernelFile(from: string, to: string, mode: number, what: string): Promise<string> {
  const src = await openRegularFile(from, what);
  try {
    // The open file, by /proc/PID/fd/N (a swap of its name since changes nothing); the target must be a new name (COPYFILE_EXCL).
    await copyFile(src.path, to, constants.COPYFILE_EXCL);
    await chmod(to, mode);
  } finally {
    await src.close();
  }
  return sha256File(to);
}

/**
 * The kernel a `kernel` step built, copied from its cache entry beside the
 * partial image: `linux` (0755), `config`, `System.map` (when the entry has
 * one). Their checksums must be the ones the build recorded (a cache entry
 * changed since is refused).
 */
export async function stageKernelFiles(k: BuiltKernel, partial: OutputPaths, final: OutputPaths): Promise<KernelOutput> {
  const sha256 = await copyKernelFile(join(k.dir, 'linux'), partial.kernel, 0o755, 'kernel');
  if (sha256 !== k.sha256) throw new UserError(`the kernel ${join(k.dir, 'linux')} is not the one the build made (sha256 ${sha256}, expected ${k.sha256}): rebuild with --refresh-cache`);
  const configSha256 = await copyKernelFile(join(k.dir, 'config'), partial.kernelConfig, 0o644, 'kernel config');
  if (configSha256 !== k.configSha256) throw new UserError(`the kernel config ${join(k.dir, 'config')} is not the one the build made: rebuild with --refresh-cache`);
  const hasMap = await lstat(join(k.dir, 'System.map')).then(
    (st) => st.isFile(),
    () => false,
  );
  if (hasMap) await copyKernelFile(join(k.dir, 'System.map'), partial.systemMap, 0o644, 'System.map');
  return { file: basename(final.kernel), sha256, config: basename(final.kernelConfig), configSha256, systemMap: hasMap ? basename(final.systemMap) : undefined };
}

/** Write script and manifest beside the partial image (or root tree), then rename all three (and the kernel files staged beside them). */
export async function commitOutputs(partial: OutputPaths, final: OutputPaths, script: string, manifest: string, hostfs = false, bmap?: string, kernel?: KernelOutput): Promise<void> {
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
  // The kernel files too, before the manifest and script that name them; a build without its own kernel leaves none of an older one.
  if (kernel) {
    await rename(partial.kernel, final.kernel);
    await rename(partial.kernelConfig, final.kernelConfig);
    if (kernel.systemMap) await rename(partial.systemMap, final.systemMap);
    else await rm(final.systemMap, { force: true });
  } else await Promise.all([final.kernel, final.kernelConfig, final.systemMap].map((f) => rm(f, { force: true })));
  await rename(partial.script, final.script);
  await rename(partial.manifest, final.manifest);
}
