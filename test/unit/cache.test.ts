import { readlinkSync } from 'node:fs';
import assert from 'node:assert/strict';
import { mkdir, readFile, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BootstrapCache, cacheKey, defaultCacheDir } from '../../src/cache/store.js';
import { tempDir, type TempDir } from '../helpers.js';

describe('bootstrap cache', () => {
  let dir: TempDir;
  let cache: BootstrapCache;
  beforeEach(async () => {
    dir = await tempDir();
    cache = new BootstrapCache(dir.path);
  });
  afterEach(() => dir.remove());

  it('keys on every field, in any order', () => {
    const a = cacheKey({ suite: 'bookworm', variant: 'minbase', include: ['a'], mirror: 'http://m.example.test/debian' });
    assert.equal(a, cacheKey({ mirror: 'http://m.example.test/debian', include: ['a'], variant: 'minbase', suite: 'bookworm' }));
    assert.notEqual(a, cacheKey({ suite: 'bookworm', variant: 'minbase', include: ['a', 'b'], mirror: 'http://m.example.test/debian' }));
    assert.notEqual(a, cacheKey({ suite: 'bookworm', variant: 'minbase', include: ['a'], mirror: 'http://other.example.test/debian' }));
  });

  it('follows XDG_CACHE_HOME, else ~/.cache', () => {
    assert.equal(defaultCacheDir({ XDG_CACHE_HOME: '/x/cache', HOME: '/home/u' }), '/x/cache/umlbuild');
    assert.equal(defaultCacheDir({ HOME: '/home/u' }), '/home/u/.cache/umlbuild');
  });

  it('commits an entry atomically and finds it; a corrupt or partial entry is removed, never used', async () => {
    const release = await cache.lock('k1');
    const partial = `${cache.tarball('k1')}.partial-1`;
    await writeFile(partial, 'tarball bytes');
    await cache.commit('k1', partial, { suite: 'bookworm' });
    await release();
    const hit = await cache.lookup('k1');
    assert.equal(hit?.bytes, 13);
    assert.deepEqual((await cache.list()).map((e) => e.key), ['k1']);
    await writeFile(cache.tarball('k1'), 'tarball bytez');
    assert.equal(await cache.lookup('k1'), undefined);
    assert.deepEqual(await cache.list(), []);
    await writeFile(join(cache.dir, 'k2.json'), '{"key":"k2","sha256":"00"}');
    assert.equal(await cache.lookup('k2'), undefined, 'an entry without its tarball');
  });

  it('waits for a live lock holder and takes over a dead one', async () => {
    const release = await cache.lock('k');
    let second = false;
    const waiting = cache.lock('k').then((r) => {
      second = true;
      return r;
    });
    await new Promise((r) => setTimeout(r, 700));
    assert.equal(second, false, 'the second taker waits');
    await release();
    await (await waiting)();
    const ns = readlinkSync('/proc/self/ns/pid');
    await writeFile(join(cache.dir, 'dead.lock'), `999999999 ${ns}`);
    const r = await cache.lock('dead');
    assert.equal(await readFile(join(cache.dir, 'dead.lock'), 'utf8'), `${process.pid} ${ns}`);
    await r();
  });

  it('a holder in another pid namespace (rootless build) counts while it touches its lock, and is stale after 60 s', async () => {
    await mkdir(cache.dir, { recursive: true });
    await writeFile(join(cache.dir, 'ns.lock'), '1 pid:[1]');
    let taken = false;
    const waiting = cache.lock('ns').then((r) => {
      taken = true;
      return r;
    });
    await new Promise((r) => setTimeout(r, 700));
    assert.equal(taken, false, 'a fresh lock from another namespace is respected');
    const old = new Date(Date.now() - 61000);
    await utimes(join(cache.dir, 'ns.lock'), old, old);
    await (await waiting)();
  });
});
