/** Where a step's `source:` is: absolute as given; relative to the recipe when it is there, else to the working directory (a `--set rootfs=output/target`). */
import { existsSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';

export function sourcePath(source: string, recipeDir: string): string {
  if (isAbsolute(source)) return source;
  const beside = resolve(recipeDir, source);
  return existsSync(beside) ? beside : resolve(source);
}
