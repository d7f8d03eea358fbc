/**
 * Run a bootstrap through the cache: unpack the entry for this key when there
 * is a good one, else bootstrap, then pack the result into a new entry. The
 * entry's lock is held while filling, so concurrent builds of the same key
 * bootstrap once.
 */
import { RUN_ID } from '../host/run-id.js';
import { rm } from 'node:fs/promises';
import type { StepContext } from './types.js';
import { cacheKey } from '../cache/store.js';
import { stageIntoRoot } from '../host/stage-tree.js';

const TAR_FLAGS = ['--zstd', '--numeric-owner', '--xattrs', '--xattrs-include=*', '--acls'];

export async function cachedBootstrap(ctx: StepContext, fields: Record<string, unknown>, root: string, bootstrap: () => Promise<void>): Promise<void> {
  const cache = ctx.cache!;
  const key = cacheKey(fields);
  const unlock = ctx.teardown.defer(`release the cache lock ${key}`, await cache.lock(key, ctx.signal), { resource: { kind: 'lock', path: cache.lockFile(key) } });
  try {
    const hit = ctx.refreshCache ? undefined : await cache.lookup(key);
    if (hit) {
      ctx.log(`cache hit ${key} (${(hit.bytes / 2 ** 20).toFixed(0)} MiB, from ${hit.created}): unpacking instead of bootstrapping`);
      // Into a fresh staging directory, then moved in with paths resolved inside the root: a
      // forged entry writes nothing outside the tree. A bootstrap makes device nodes: kept.
      const unpack = (dir: string) => ctx.exec('tar', [...TAR_FLAGS, '-xpf', cache.tarball(key), '-C', dir]).then(() => undefined);
      await stageIntoRoot(root, unpack, { step: 'cache', topAttributes: true });
      return;
    }
    ctx.log(`cache ${ctx.refreshCache ? 'refresh' : 'miss'} ${key}: bootstrapping`);
    await bootstrap();
    const partial = `${cache.tarball(key)}.partial-${RUN_ID}`;
    const cleanup = ctx.teardown.defer(`remove ${partial}`, () => rm(partial, { force: true }), { resource: { kind: 'file', path: partial } });
    await ctx.exec('tar', [...TAR_FLAGS, '--one-file-system', '-cpf', partial, '-C', root, '.']);
    const info = await cache.commit(key, partial, fields);
    cleanup.drop();
    ctx.log(`cached ${key} (${(info.bytes / 2 ** 20).toFixed(0)} MiB) in ${cache.dir}`);
  } finally {
    await unlock.release();
  }
}
