/**
 * `--artifacts DIR`: what a CI job publishes, under stable names: the image
 * (`<output>.img.zst` by default, or `.img.xz`, a sparse-aware `.img.tar`, or
 * the sparse `.img` itself), the launch script, the manifest, and SHA256SUMS
 * over them (`sha256sum -c SHA256SUMS` checks a download).
 */
import { copyFile, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { exec } from '../host/exec.js';
import { sha256File } from '../output/manifest.js';
import type { OutputPaths } from './outputs.js';

export const COMPRESSIONS = ['zst', 'xz', 'tar', 'none'] as const;
export type Compression = (typeof COMPRESSIONS)[number];

export async function writeArtifacts(outputs: OutputPaths, dir: string, compression: Compression, signal?: AbortSignal): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const image = outputs.image;
  const name = basename(image);
  const target = join(dir, compression === 'none' ? name : compression === 'tar' ? `${name}.tar` : `${name}.${compression}`);
  const partial = `${target}.partial`;
  try {
    if (compression === 'zst') await exec('zstd', ['-q', '-T0', '-f', '-o', partial, image], { signal });
    else if (compression === 'xz') await exec('sh', ['-c', 'xz -T0 -c -- "$1" > "$2"', 'sh', image, partial], { signal });
    else if (compression === 'tar') await exec('tar', ['--sparse', '-cf', partial, '-C', dirname(image), name], { signal });
    else await exec('cp', ['--sparse=always', image, partial], { signal });
    await rename(partial, target);
  } catch (e) {
    await rm(partial, { force: true });
    throw e;
  }
  const files = [target];
  for (const f of [outputs.script, outputs.manifest]) {
    const to = join(dir, basename(f));
    await copyFile(f, to);
    files.push(to);
  }
  const sums = await Promise.all(files.map(async (f) => `${await sha256File(f)}  ${basename(f)}\n`));
  await writeFile(join(dir, 'SHA256SUMS'), sums.join(''));
  return [...files, join(dir, 'SHA256SUMS')];
}
