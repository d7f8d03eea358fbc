/**
 * The base-image cache of warm builds (runner/fast-path): a packed ext image
 * of everything a recipe builds except its last file-edit steps, kept as a
 * sparse file with the facts of its tree (packages, kernel modules). A warm
 * build copies it (cp --sparse) and edits the copy with debugfs. Entries are
 * written under a temporary name and renamed when complete; an entry whose
 * size or mtime differs from its record is removed, never used (e2fsck
 * checks each copy as well).
 */
import { rename, rm, stat } from 'node:fs/promises';
import { RUN_ID } from '../host/run-id.js';
import { join } from 'node:path';
import { ensureCacheDir, pruneCacheDir, readRecord, readRecords, writeRecord } from './records.js';
import type { BuildFacts } from '../model/facts.js';
import type { Bmap } from '../host/bmap.js';

export interface ImageEntry {
  key: string;
  /** What the key was made of, for `cache ls`. */
  fields: Record<string, unknown>;
  facts: BuildFacts;
  bytes: number;
  mtimeMs: number;
  created: string;
  /** Its block map (host/bmap): a warm build's map rehashes only what its edits wrote. Absent in entries of older versions. */
  bmap?: Bmap;
}

export class ImageCache {
  readonly dir: string;
  /** Memoized tree digests of cache inputs (cache/tree-digest). */
  readonly digests: string;
  constructor(root: string) {
    this.dir = join(root, 'images');
    this.digests = join(root, 'digests');
  }

  image(key: string): string {
    return join(this.dir, `${key}.img`);
  }

  private record(key: string): string {
    return join(this.dir, `${key}.json`);
  }

  async lookup(key: string): Promise<ImageEntry | undefined> {
    const entry = await readRecord<ImageEntry>(this.record(key));
    if (!entry) return undefined;
    const st = await stat(this.image(key)).catch(() => undefined);
    if (!st || st.size !== entry.bytes || Math.abs(st.mtimeMs - entry.mtimeMs) > 1) {
      await this.remove(key);
      return undefined;
    }
    return entry;
  }

  /** Take the image at `partial` (already beside the entry) as the entry for `key`. */
  async commit(key: string, partial: string, fields: Record<string, unknown>, facts: BuildFacts, bmap?: Bmap): Promise<ImageEntry> {
    const st = await stat(partial);
    const entry: ImageEntry = { key, fields, facts, bytes: st.size, mtimeMs: st.mtimeMs, created: new Date().toISOString(), ...(bmap ? { bmap } : {}) };
    await rename(partial, this.image(key));
    await writeRecord(this.record(key), entry);
    return entry;
  }

  /** Add a block map to the record of an entry made by an older version (which kept none). */
  async addBmap(entry: ImageEntry, bmap: Bmap): Promise<void> {
    await writeRecord(this.record(entry.key), { ...entry, bmap });
  }

  /** A temporary name inside the cache for an entry being written. */
  async partial(key: string): Promise<string> {
    await ensureCacheDir(this.dir);
    return join(this.dir, `.${key}.img.partial-${RUN_ID}`);
  }

  async remove(key: string): Promise<void> {
    await rm(this.record(key), { force: true });
    await rm(this.image(key), { force: true });
  }

  list(): Promise<ImageEntry[]> {
    return readRecords<ImageEntry>(this.dir);
  }

  /** Remove every entry but those a running build writes; never through a link (see pruneCacheDir). */
  prune(warn: (line: string) => void = () => undefined): Promise<number> {
    return pruneCacheDir(this.dir, warn);
  }
}
