/**
 * `--artifacts DIR`: what a CI job publishes, under stable names: the image
 * (`<output>.img.zst` by default, or `.img.xz`, a sparse-aware `.img.tar`, or
 * the sparse `.img` itself), the launch script, the manifest, the image's
 * block map when it has one, the image's own kernel with its config and
 * System.map when the recipe built one, and SHA256SUMS over them (`sha256sum -c
 * SHA256SUMS` checks a download).
 *
 * DIR may hold anything, links planted by someone else included: every file is
 * made in a fresh private directory inside DIR (journaled, so `cleanup`
 * removes it after a SIGKILL), hashed there, and renamed to its name in DIR,
 * which replaces a link instead of writing through it.
 */
import { existsSync } from 'node:fs';
import { lstat, mkdir, rename } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { exec } from '../host/exec.js';
import { removeTree } from '../host/remove-tree.js';
import { copyReplacing, makePrivateDir, partialPath, writeNew } from '../host/safe-write.js';
import { sha256File } from '../host/hashing.js';
import { Journal } from '../host/journal.js';
import { copyKernelFile, type OutputPaths } from './outputs.js';
import { Teardown } from '../host/teardown.js';

export const COMPRESSIONS = ['zst', 'xz', 'tar', 'none'] as const;
export type Compression = (typeof COMPRESSIONS)[number];

export async function writeArtifacts(outputs: OutputPaths, dir: string, compression: Compression, signal?: AbortSignal): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const image = outputs.image;
  const name = basename(image);
  const target = compression === 'none' ? name : compression === 'tar' ? `${name}.tar` : `${name}.${compression}`;
  const journal = new Journal();
  const teardown = new Teardown(undefined, journal);
  const staging = partialPath(join(dir, target));
  let failed = true;
  try {
    await makePrivateDir(staging);
    teardown.defer(`remove ${staging}`, () => removeTree(staging), { resource: { kind: 'tree', path: staging } });
    const at = (f: string) => join(staging, f);
    if (compression === 'zst') await exec('zstd', ['-q', '-T0', '-o', at(target), image], { signal });
    else if (compression === 'xz') await exec('sh', ['-c', 'xz -T0 -c -- "$1" > "$2"', 'sh', image, at(target)], { signal });
    else if (compression === 'tar') await exec('tar', ['--sparse', '-cf', at(target), '-C', dirname(image), name], { signal });
    else await exec('cp', ['--sparse=always', image, at(target)], { signal });
    const names = [target, basename(outputs.script), basename(outputs.manifest)];
    await copyReplacing(outputs.script, at(names[1]!));
    await copyReplacing(outputs.manifest, at(names[2]!));
    // The block map the manifest names (bmaptool copy IMAGE.zst DEST finds it beside the download and checks every range).
    if (existsSync(outputs.bmap)) {
      names.push(basename(outputs.bmap));
      await copyReplacing(outputs.bmap, at(basename(outputs.bmap)));
    }
    // The image's own kernel, its config and System.map, when the build made them (never through a link).
    for (const [file, mode] of [
      [outputs.kernel, 0o755],
      [outputs.kernelConfig, 0o644],
      [outputs.systemMap, 0o644],
    ] as const) {
      if (!(await lstat(file).catch(() => undefined))) continue;
      names.push(basename(file));
      await copyKernelFile(file, at(basename(file)), mode, 'kernel file');
    }
    const sums = await Promise.all(names.map(async (f) => `${await sha256File(at(f))}  ${f}\n`));
    await writeNew(at('SHA256SUMS'), sums.join(''));
    names.push('SHA256SUMS');
    for (const f of names) await rename(at(f), join(dir, f));
    failed = false;
    return names.map((f) => join(dir, f));
  } finally {
    await teardown.unwind(failed);
    journal.close();
  }
}
