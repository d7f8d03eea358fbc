import { readlinkSync } from 'node:fs';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, readdir, readFile, symlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BootstrapCache, cacheKey, defaultCacheDir } from '../../src/cache/store.js';
import { ImageCache } from '../../src/cache/images.js';
import { exec } from '../../src/host/exec.js';
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

  it("keeps memoized tool versions in the same place as the image cache's digests (a cold build asks the bootstrap tool once)", () => {
    assert.equal(new BootstrapCache('/c').digests, new ImageCache('/c').digests);
    assert.equal(new BootstrapCache('/c').digests, '/c/digests');
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
    assert.deepEqual(
      (await cache.list()).map((e) => e.key),
      ['k1'],
    );
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

  it('a FIFO or a link planted as a record or a tarball is no entry, and hangs nothing', async () => {
    await mkdir(cache.dir, { recursive: true });
    await exec('mkfifo', [join(cache.dir, 'f.json'), cache.tarball('g')]);
    await writeFile(join(cache.dir, 'g.json'), '{"key":"g","sha256":"00"}');
    await symlink('/dev/zero', cache.tarball('h'));
    await writeFile(join(cache.dir, 'h.json'), '{"key":"h","sha256":"00"}');
    assert.deepEqual(
      (await cache.list()).map((e) => e.key),
      ['g', 'h'],
    );
    assert.equal(await cache.lookup('f'), undefined);
    assert.equal(await cache.lookup('g'), undefined);
    assert.equal(await cache.lookup('h'), undefined);
  });

  describe('prune', () => {
    let victims: TempDir;
    beforeEach(async () => {
      victims = await tempDir('victims-');
    });
    afterEach(() => victims.remove());

    it('never follows a symlinked cache subdirectory (bootstrap, images, debs): it is left alone with a warning', async () => {
      await victims.write('boot/precious.json', '{"key":"x"}');
      await victims.write('img/precious.img', 'data');
      await victims.write('debs/precious.deb', 'deb');
      await symlink(join(victims.path, 'boot'), join(dir.path, 'bootstrap'));
      await symlink(join(victims.path, 'img'), join(dir.path, 'images'));
      await symlink(join(victims.path, 'debs'), join(dir.path, 'debs'));
      const warnings: string[] = [];
      assert.equal(await cache.prune((l) => warnings.push(l)), 0);
      assert.equal(await new ImageCache(dir.path).prune((l) => warnings.push(l)), 0);
      assert.deepEqual(await readdir(join(victims.path, 'boot')), ['precious.json']);
      assert.deepEqual(await readdir(join(victims.path, 'img')), ['precious.img']);
      assert.deepEqual(await readdir(join(victims.path, 'debs')), ['precious.deb']);
      assert.equal(warnings.filter((w) => /is a symbolic link: left alone/.test(w)).length, 3, warnings.join('\n'));
    });

    it('a symlinked cache subdirectory is refused for writing too', async () => {
      await symlink(victims.path, join(dir.path, 'bootstrap'));
      await assert.rejects(cache.lock('k'), /the cache directory \S+bootstrap is a symbolic link/);
      await symlink(victims.path, join(dir.path, 'debs'));
      await assert.rejects(cache.debsDir(), /the cache directory \S+debs is a symbolic link/);
      assert.deepEqual(await readdir(victims.path), []);
    });

    it('keeps what a running build holds: its locked entry, debs/ and partial files of a live pid; removes the rest', async () => {
      const sleeper = spawn('sleep', ['60'], { stdio: 'ignore' });
      try {
        const ns = readlinkSync('/proc/self/ns/pid');
        await mkdir(cache.dir, { recursive: true });
        await writeFile(join(cache.dir, 'live.lock'), `${sleeper.pid} ${ns}`);
        await writeFile(join(cache.dir, 'live.json'), '{}');
        await writeFile(join(cache.dir, 'live.tar.zst'), 'x');
        await writeFile(join(cache.dir, 'dead.lock'), `999999999 ${ns}`);
        await writeFile(join(cache.dir, 'dead.json'), '{}');
        await writeFile(join(cache.dir, 'dead.tar.zst'), 'x');
        await writeFile(join(cache.dir, `other.tar.zst.partial-${sleeper.pid}-abcdef`), 'x');
        await writeFile(join(cache.dir, 'old.tar.zst.partial-999999999-abcdef'), 'x');
        await mkdir(join(dir.path, 'debs'));
        await writeFile(join(dir.path, 'debs', 'a.deb'), 'x');
        const images = new ImageCache(dir.path);
        await mkdir(images.dir);
        await writeFile(join(images.dir, `.k.img.partial-${sleeper.pid}-abcdef`), 'x');
        await writeFile(join(images.dir, 'k2.img'), 'x');
        const warnings: string[] = [];
        assert.equal(await cache.prune((l) => warnings.push(l)), 1);
        assert.equal(await images.prune((l) => warnings.push(l)), 0);
        assert.deepEqual((await readdir(cache.dir)).sort(), [`other.tar.zst.partial-${sleeper.pid}-abcdef`, 'live.json', 'live.lock', 'live.tar.zst'].sort());
        assert.deepEqual(await readdir(join(dir.path, 'debs')), ['a.deb'], 'debs/ is in use while a build holds a lock');
        assert.deepEqual(await readdir(images.dir), [`.k.img.partial-${sleeper.pid}-abcdef`]);
        assert.ok(
          warnings.some((w) => w.includes(`held by a running umlbuild (pid ${sleeper.pid})`)),
          warnings.join('\n'),
        );
      } finally {
        sleeper.kill();
      }
      await new Promise((r) => setTimeout(r, 200));
      await cache.prune();
      assert.deepEqual(await readdir(cache.dir), []);
      assert.deepEqual(await readdir(join(dir.path, 'debs')), []);
    });
  });
});
