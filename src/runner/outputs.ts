/**
 * Output files: built under temporary names beside the final ones and renamed
 * only when everything succeeded, so a failed build leaves no half image and
 * an older good image survives.
 */
import { chmod, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';

export interface OutputPaths {
  image: string;
  script: string;
  manifest: string;
}

export function outputPaths(outDir: string, output: string): OutputPaths {
  const base = isAbsolute(output) ? output : resolve(outDir, output);
  return { image: `${base}.img`, script: `${base}.sh`, manifest: `${base}.manifest.json` };
}

/** `dir/.name.partial-PID` beside `dir/name`. */
export function partialPath(final: string): string {
  return join(dirname(final), `.${basename(final)}.partial-${process.pid}`);
}

export function partialPaths(p: OutputPaths): OutputPaths {
  return { image: partialPath(p.image), script: partialPath(p.script), manifest: partialPath(p.manifest) };
}

export async function prepareOutputDir(p: OutputPaths): Promise<void> {
  await mkdir(dirname(p.image), { recursive: true });
}

export async function removePartials(p: OutputPaths): Promise<void> {
  await Promise.all(Object.values(p).map((f) => rm(f, { force: true })));
}

/** Write script and manifest beside the partial image, then rename all three. */
export async function commitOutputs(partial: OutputPaths, final: OutputPaths, script: string, manifest: string): Promise<void> {
  await writeFile(partial.script, script, { mode: 0o755 });
  await chmod(partial.script, 0o755);
  await writeFile(partial.manifest, manifest, { mode: 0o644 });
  await rename(partial.image, final.image);
  await rename(partial.script, final.script);
  await rename(partial.manifest, final.manifest);
}
