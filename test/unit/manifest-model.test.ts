/** model/manifest.ts: one writer, one reader; every manifest read back is checked as untrusted input. */
import assert from 'node:assert/strict';
import { symlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { UserError } from '../../src/errors.js';
import { cowVariantManifestSchema, imageManifestSchema, type CowVariantManifest, type ImageManifest, manifestKind, parseManifest, serializeManifest } from '../../src/model/manifest.js';
import { checkManifest } from '../../src/uml/manifest-schema.js';
import { findBuiltImage } from '../../src/uml/target.js';
import { rejection, tempDir, type TempDir } from '../helpers.js';

const SHA = 'a'.repeat(64);
const LAUNCH = { script: 'demo.sh', script_sha256: SHA, mem: '64M', root: '/dev/ubda', args: ['quiet', 'hostfs=/proc/umlbuild-no-hostfs'] };

const image = (): ImageManifest => ({
  umlbuild: '0.1.0',
  created: '2026-01-01T00:00:00.000Z',
  recipe: { name: 'demo', file: '/srv/recipes/demo.yml', description: 'a demo' },
  variables: { hostname: 'demo', root_password: '***' },
  passwords: { root_password: 'generated' },
  image: { file: 'demo.img', apparent: 1 << 24, allocated: 4096, sha256: SHA, fs: 'ext4', uuid: 'u-1' },
  umid: 'demo',
  launch: LAUNCH,
  test: { user: 'root', hostname: 'demo', root: 'ubd', expect: {}, login_timeout: 120 },
  bootstrap: { suite: 'bookworm', mirror: 'http://mirror.example.invalid/debian' },
  kernel: { modules: '6.1.0' },
  packages: [{ name: 'bash', version: '5.2' }],
  steps: [{ step: 'sparse-disk', title: 'Create sparse disk', seconds: 0.1 }],
  variants: [{ name: 'v1', cow: 'v1.cow', script: 'v1.sh', allocated: 4096, seconds: 2 }],
});

const variant = (): CowVariantManifest => ({
  kind: 'cow-variant',
  variant: 'v1',
  recipe: { name: 'demo', file: '/srv/recipes/demo.yml' },
  image: { file: 'demo.img' },
  cow: { file: 'v1.cow', apparent: 1 << 24, allocated: 4096 },
  umid: 'v1',
  launch: { ...LAUNCH, script: 'v1.sh' },
  test: { user: 'root', hostname: 'v1', root: 'ubd', expect: {}, login_timeout: 120 },
});

describe('model/manifest: the manifest as data', () => {
  it('round trip: what the writer writes, the reader gives back unchanged (image build and COW variant)', () => {
    for (const [m, schema] of [
      [image(), imageManifestSchema],
      [variant(), cowVariantManifestSchema],
    ] as const) {
      const text = serializeManifest(m);
      assert.ok(text.endsWith('}\n'));
      const r = parseManifest(text, schema);
      assert.ok(r.ok, JSON.stringify(r));
      assert.deepEqual(r.data, m);
      // Read back and written again: the same text, key order included.
      assert.equal(serializeManifest(r.data as typeof m), text);
      // And the untrusted-input reader accepts what umlbuild wrote.
      const checked = checkManifest('demo.manifest.json', text);
      assert.equal(checked.image.file, 'demo.img');
      assert.equal(checked.launch.script, m.launch.script);
    }
  });

  it('the writer refuses a manifest of the wrong shape (a bug: it throws)', () => {
    const bad = { ...image(), image: { file: 'demo.img' } } as unknown as ImageManifest;
    assert.throws(() => serializeManifest(bad));
    assert.throws(() => serializeManifest({ ...variant(), cow: undefined } as unknown as CowVariantManifest));
  });

  it('the reader names every problem; text that is no JSON says so', () => {
    const r = parseManifest('{ nope');
    assert.ok(!r.ok);
    assert.match(r.issues[0]!.message, /^not JSON: /);
    const r2 = parseManifest(JSON.stringify({ image: { file: 'a/b.img' }, launch: { script: '..' } }));
    assert.ok(!r2.ok);
    assert.deepEqual(r2.issues.map((i) => i.path).sort(), ['image.file', 'launch.script']);
  });

  it('manifestKind tells a variant from a base without checking the rest', () => {
    assert.equal(manifestKind(serializeManifest(variant())), 'cow-variant');
    assert.equal(manifestKind(serializeManifest(image())), undefined);
    assert.equal(manifestKind('not json'), undefined);
  });

  describe('a hostile manifest beside an image is refused with exit 2', () => {
    let dir: TempDir;
    beforeEach(async () => {
      dir = await tempDir('umlbuild-manifest-');
      await dir.write('demo.img', 'x');
      await dir.write('demo.sh', '#!/bin/sh\n');
    });
    afterEach(() => dir.remove());
    const refused = async (m: object) => {
      await dir.write('demo.manifest.json', serializeManifest(m as ImageManifest));
      const err = await rejection<UserError>(findBuiltImage(join(dir.path, 'demo.img')));
      assert.equal(err.exitCode, 2, err.message);
      return err.message;
    };

    it('accepts the one umlbuild wrote', async () => {
      await dir.write('demo.manifest.json', serializeManifest(image()));
      assert.equal((await findBuiltImage(dir.path)).image, join(dir.path, 'demo.img'));
    });

    it('a kernel argument not on the allow-list', async () => {
      assert.match(await refused({ ...image(), launch: { ...LAUNCH, args: ['quiet', 'ubd1=/etc/shadow'] } }), /launch\.args\.1: "ubd1=\/etc\/shadow" is not an allowed kernel argument/);
      assert.match(await refused({ ...image(), launch: { ...LAUNCH, args: ['init=/bin/sh;reboot'] } }), /init= does not take/);
    });

    it('a file name with "/" (or "..")', async () => {
      assert.match(await refused({ ...image(), image: { ...image().image, file: '../demo.img' } }), /image\.file: must be a file name in the manifest's directory/);
      assert.match(await refused({ ...image(), launch: { ...LAUNCH, script: '/tmp/evil.sh' } }), /launch\.script: must be a file name/);
    });

    it('more memory than the host has', async () => {
      assert.match(await refused({ ...image(), launch: { ...LAUNCH, mem: '1048576G' } }), /launch\.mem: 1048576G is more than this host's memory/);
    });

    it('an image that is a symbolic link', async () => {
      await dir.write('victim', 'not an image');
      await dir.write('demo.manifest.json', serializeManifest({ ...image(), image: { ...image().image, file: 'link.img' } } as ImageManifest));
      await symlink(join(dir.path, 'victim'), join(dir.path, 'link.img'));
      const err = await rejection<UserError>(findBuiltImage(join(dir.path, 'demo.img')));
      assert.equal(err.exitCode, 2);
      assert.match(err.message, /its image \S+link\.img is a symbolic link/);
    });
  });
});
