import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ImageCache } from '../../src/cache/images.js';
import { exec } from '../../src/host/exec.js';
import { keyedOptions } from '../../src/runner/fast-path.js';
import { applyScript, recordVariants } from '../../src/runner/variants.js';
import type { BuildFacts } from '../../src/model/facts.js';
import { tempDir, type TempDir } from '../helpers.js';

describe('variants, the base-image cache and the fast path: their pure parts', () => {
  let dir: TempDir;
  beforeEach(async () => {
    dir = await tempDir('umlbuild-variants-');
  });
  afterEach(() => dir.remove());

  describe('runner/variants', () => {
    it('applyScript runs each command with its env literally, and names the command that failed', async () => {
      const victim = join(dir.path, 'victim');
      const script = applyScript([
        { command: 'printf "%s" "$GREETING" > "$OUT"', env: { GREETING: `it's $(touch ${victim}) \`x\``, OUT: join(dir.path, 'said') } },
        { command: 'exit 3', env: {} },
        { command: `touch ${join(dir.path, 'never')}`, env: {} },
      ]);
      assert.match(script, /^tar -C \/ --keep-directory-symlink --no-overwrite-dir -xpf \/dev\/ubdc/m);
      assert.match(script, /mount -o remount,ro \/\necho "UMLPROBE status=applied"$/);
      // Only the command lines: the rest mounts and unpacks inside the guest.
      const commands = script
        .split('\n')
        .filter((l) => l.startsWith('env '))
        .join('\n');
      const r = await exec('sh', ['-c', commands], { reject: false });
      assert.equal(await readFile(join(dir.path, 'said'), 'utf8'), `it's $(touch ${victim}) \`x\``);
      assert.equal(existsSync(victim), false, 'a value is never run');
      assert.equal(r.exitCode, 1);
      assert.equal(r.stdout, 'UMLPROBE status=command-1-failed');
      assert.equal(existsSync(join(dir.path, 'never')), false, 'stops at the first failure');
    });

    it('recordVariants adds each variant by file name to the base manifest, keeping the rest', async () => {
      const manifest = await dir.write('base.manifest.json', JSON.stringify({ recipe: { name: 'base' }, image: { file: 'base.img' } }));
      await recordVariants(manifest, [{ name: 'v1', cow: join(dir.path, 'v1.cow'), script: join(dir.path, 'v1.sh'), manifest: join(dir.path, 'v1.manifest.json'), allocated: 4096, seconds: 1.5 }]);
      assert.deepEqual(JSON.parse(await readFile(manifest, 'utf8')), {
        recipe: { name: 'base' },
        image: { file: 'base.img' },
        variants: [{ name: 'v1', cow: 'v1.cow', script: 'v1.sh', allocated: 4096, seconds: 1.5 }],
      });
    });
  });

  describe('cache/images', () => {
    const facts = { packages: ['busybox'] } as unknown as BuildFacts;

    it('commits a partial image under its key and finds it with its record', async () => {
      const cache = new ImageCache(dir.path);
      const partial = await cache.partial('k1');
      assert.equal(join(partial, '..'), cache.dir, 'written inside the cache, renamed into place');
      await writeFile(partial, 'image bytes');
      const entry = await cache.commit('k1', partial, { suite: 'bookworm' }, facts);
      assert.equal(existsSync(partial), false);
      assert.equal(await readFile(cache.image('k1'), 'utf8'), 'image bytes');
      assert.deepEqual(await cache.lookup('k1'), entry);
      assert.deepEqual({ ...entry, created: '', mtimeMs: 0 }, { key: 'k1', fields: { suite: 'bookworm' }, facts, bytes: 11, mtimeMs: 0, created: '' });
      assert.deepEqual(
        (await cache.list()).map((e) => e.key),
        ['k1'],
      );
      assert.equal(await cache.lookup('k2'), undefined);
    });

    it('an entry whose image changed size is removed, never used', async () => {
      const cache = new ImageCache(dir.path);
      const partial = await cache.partial('k1');
      await writeFile(partial, 'image bytes');
      await cache.commit('k1', partial, {}, facts);
      await truncate(cache.image('k1'), 3);
      assert.equal(await cache.lookup('k1'), undefined);
      assert.equal(existsSync(cache.image('k1')), false);
      assert.deepEqual(await cache.list(), []);
    });
  });

  describe('runner/fast-path keyedOptions', () => {
    it('puts a secret variable into a cache key only as its sha256', () => {
      const plan = { vars: { pw: 'hunter2', host: 'uml' }, secretVars: new Set(['pw']) };
      const sha = `sha256:${createHash('sha256').update('hunter2').digest('hex')}`;
      assert.deepEqual(keyedOptions({ command: 'echo root:hunter2 | chpasswd', host: 'uml' }, plan), { command: `echo root:${sha} | chpasswd`, host: 'uml' });
      // A one-letter secret, or one that is a JSON word, stays inside the string values (it used to break the key's JSON).
      const short = { vars: { pw: 'a', pw2: 'true' }, secretVars: new Set(['pw', 'pw2']) };
      const ha = `sha256:${createHash('sha256').update('a').digest('hex')}`;
      const ht = `sha256:${createHash('sha256').update('true').digest('hex')}`;
      assert.deepEqual(keyedOptions({ hostfs: false, tmpfs: true, users: [{ user: 'root', password: 'a' }], command: 'say true' }, short), { hostfs: false, tmpfs: true, users: [{ user: 'root', password: ha }], command: `s${ha}y ${ht}` });
      const plain = { command: 'true' };
      assert.equal(keyedOptions(plain, { vars: {}, secretVars: new Set() }), plain);
    });
  });
});
