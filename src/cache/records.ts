/** The JSON records beside cache entries, shared by the bootstrap and base-image caches. */
import { readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { RUN_ID } from '../host/run-id.js';

/** Every `*.json` record in `dir`, by name; unreadable ones are skipped. */
export async function readRecords<T>(dir: string): Promise<T[]> {
  const out: T[] = [];
  for (const f of (await readdir(dir).catch(() => [] as string[])).sort()) {
    if (!f.endsWith('.json')) continue;
    const record = await readFile(join(dir, f), 'utf8').then((t) => JSON.parse(t) as T, () => undefined);
    if (record) out.push(record);
  }
  return out;
}

/** Write a record whole or not at all (temporary name, then rename). */
export async function writeRecord(file: string, value: unknown): Promise<void> {
  const tmp = `${file}.partial-${RUN_ID}`;
  await writeFile(tmp, `${JSON.stringify(value, null, 2)}\n`);
  await rename(tmp, file);
}

/** Remove everything in `dir` (entries, stray partials, locks); returns how many records there were. */
export async function emptyCacheDir(dir: string): Promise<number> {
  const files = await readdir(dir).catch(() => [] as string[]);
  for (const f of files) await rm(join(dir, f), { force: true, recursive: true });
  return files.filter((f) => f.endsWith('.json')).length;
}
