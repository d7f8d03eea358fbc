/**
 * The bootstrap cache: the result of a bootstrap step kept as a zstd tarball,
 * keyed by everything that affects it (suite, variant, arch, components,
 * include/exclude, mirror, keyring, the tool and its version). Entries are
 * written under a temporary name and renamed when complete, with a sha256
 * beside them; an entry whose tarball does not match is deleted and rebuilt,
 * never used. A lock file (O_EXCL, with the holder's pid) keeps two builds
 * from filling the same entry; a lock whose process is gone is taken over.
 *
 * Location: --cache-dir, else $XDG_CACHE_HOME/umlbuild, else ~/.cache/umlbuild.
 */
import { createHash } from 'node:crypto';
import { lstat, rename, rm, stat } from 'node:fs/promises';
import { acquireLock } from '../host/lock-file.js';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { anyLiveLock, ensureCacheDir, pruneCacheDir, readRecord, readRecords, writeRecord } from './records.js';
import { sha256File } from '../host/hashing.js';

export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.XDG_CACHE_HOME || join(env.HOME || homedir(), '.cache'), 'umlbuild');
}

export function cacheKey(fields: Record<string, unknown>): string {
  const canonical = JSON.stringify(
    Object.keys(fields)
      .sort()
      .map((k) => [k, fields[k]]),
  );
  return createHash('sha256').update(canonical).digest('hex').slice(0, 32);
}

export interface CacheEntryInfo {
  key: string;
  fields: Record<string, unknown>;
  sha256: string;
  bytes: number;
  created: string;
}

export class BootstrapCache {
  readonly dir: string;
  constructor(root: string) {
    this.dir = join(root, 'bootstrap');
  }

  /** Memoized tool versions and tree digests (cache/tool-version, cache/tree-digest), shared with the image cache. */
  get digests(): string {
    return join(this.dir, '..', 'digests');
  }

  /** Where debootstrap keeps downloaded .debs (shared by every entry). */
  async debsDir(): Promise<string> {
    return ensureCacheDir(join(this.dir, '..', 'debs'));
  }

  tarball(key: string): string {
    return join(this.dir, `${key}.tar.zst`);
  }

  private info(key: string): string {
    return join(this.dir, `${key}.json`);
  }

  /** A complete, verified entry, or undefined (a corrupt one is removed). */
  async lookup(key: string): Promise<CacheEntryInfo | undefined> {
    const info = await readRecord<CacheEntryInfo>(this.info(key));
    if (!info) return undefined;
    // A link or a FIFO planted as the tarball is no entry (and must not hang the read).
    const regular = (await lstat(this.tarball(key)).catch(() => undefined))?.isFile();
    const actual = regular ? await sha256File(this.tarball(key)).catch(() => undefined) : undefined;
    if (actual !== info.sha256) {
      await this.remove(key);
      return undefined;
    }
    return info;
  }

  /** Record a tarball written at `partial` as the entry for `key` (atomically). */
  async commit(key: string, partial: string, fields: Record<string, unknown>): Promise<CacheEntryInfo> {
    const info: CacheEntryInfo = { key, fields, sha256: await sha256File(partial), bytes: (await stat(partial)).size, created: new Date().toISOString() };
    await rename(partial, this.tarball(key));
    await writeRecord(this.info(key), info);
    return info;
  }

  async remove(key: string): Promise<void> {
    await rm(this.info(key), { force: true });
    await rm(this.tarball(key), { force: true });
  }

  list(): Promise<CacheEntryInfo[]> {
    return readRecords<CacheEntryInfo>(this.dir);
  }

  /**
   * Remove every entry, stray partial files and the kept .debs, except what a
   * running build holds (its entry; debs/ while any build holds a lock); never
   * through a link (see pruneCacheDir).
   */
  async prune(warn: (line: string) => void = () => undefined): Promise<number> {
    const debs = join(this.dir, '..', 'debs');
    if (await anyLiveLock(this.dir)) warn(`${debs}: a running umlbuild may be using it: left alone`);
    else await pruneCacheDir(debs, warn);
    return pruneCacheDir(this.dir, warn);
  }

  lockFile(key: string): string {
    return join(this.dir, `${key}.lock`);
  }

  /** Take the fill lock for `key`; waits while a live process holds it (see host/lock-file). */
  async lock(key: string, signal?: AbortSignal): Promise<() => Promise<void>> {
    await ensureCacheDir(this.dir);
    const got = await acquireLock(this.lockFile(key), { wait: true, signal });
    if (!('release' in got)) throw new Error('lock not taken');
    return got.release;
  }
}
