/**
 * The image's integrity record the way a user gets it: bin/umlbuild with
 * default flags writes IMAGE.bmap (bmap-tools' format) beside the image and
 * names it with its sha256 in the manifest, on a cold build and on a warm one
 * (cached base image plus debugfs edits: only the pieces the edits wrote are
 * hashed again). The standard tool checks it (`bmaptool copy IMAGE
 * /dev/null`) and fails after one changed byte; umlbuild's own check (merge,
 * verify-cow) does too. The busybox recipe with its own cache keeps it cheap.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { lstat, mkdir, open, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { exec } from '../../src/host/exec.js';
import { type Bmap, parseBmap, verifyBmap } from '../../src/host/bmap.js';
import { bmapProblem } from '../../src/uml/cow-base.js';
import { BIN, PROJECT, tempDir, type TempDir } from '../helpers.js';
import { forgeCowOver } from '../cow-forge.js';
import { requireRootWith } from './host-state.js';

const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

describe('integrity record: a block map beside the image, checked with bmaptool', function () {
  this.timeout(300_000);
  let dir: TempDir;
  const build = (out: string, extra: string[] = []) => exec(BIN, [join(PROJECT, 'recipes/busybox.yml'), '--out', out, '--cache-dir', join(dir.path, 'cache'), '--renderer', 'simple', ...extra], { reject: false });
  const check = (image: string) => exec('bmaptool', ['copy', image, '/dev/null'], { reject: false });
  const manifestOf = async (out: string) => JSON.parse(await readFile(join(out, 'busybox.manifest.json'), 'utf8'));

  before(async function () {
    await requireRootWith(this, 'bmaptool', 'busybox', 'debugfs');
    dir = await tempDir('umlbuild-bmap-', '/var/tmp');
  });
  after(() => dir?.remove());

  it('cold and warm builds with default flags write IMAGE.bmap, its sha256 in the manifest; bmaptool copy IMAGE /dev/null checks the image', async () => {
    const cold = await build(join(dir.path, 'cold'));
    assert.equal(cold.exitCode, 0, cold.stdout + cold.stderr);
    const warm = await build(join(dir.path, 'warm'), ['--set', 'hostname=warm-two', '--set', 'root_password=warm-pw']);
    assert.equal(warm.exitCode, 0, warm.stdout + warm.stderr);
    assert.match(warm.stdout, /cache hit img-[0-9a-f]{32}/, 'the second build is a warm one');
    for (const out of ['cold', 'warm'].map((d) => join(dir.path, d))) {
      const m = await manifestOf(out);
      const image = join(out, 'busybox.img');
      assert.equal(m.image.bmap.file, 'busybox.img.bmap');
      assert.equal(m.image.sha256, undefined, 'no whole-image sha256 by default');
      const text = await readFile(join(out, m.image.bmap.file), 'utf8');
      assert.equal(m.image.bmap.sha256, sha(text), 'the manifest names the block map by its sha256');
      const r = await check(image);
      assert.equal(r.exitCode, 0, r.stdout + r.stderr);
      assert.match(r.stderr + r.stdout, /discovered bmap file .*busybox\.img\.bmap/);
      // Every byte of data is in a range (nothing the edits wrote was left out of the map).
      assert.equal(await verifyBmap(image, parseBmap(text) as Bmap), undefined, out);
    }
    // The warm image has the new hostname: its block map covers what debugfs wrote.
    assert.match((await exec('debugfs', ['-R', 'cat /etc/hostname', join(dir.path, 'warm/busybox.img')])).stdout, /^warm-two$/m);
  });

  it('one changed byte in a data range: bmaptool copy fails, and so does umlbuild’s own check (merge, verify-cow)', async () => {
    const out = join(dir.path, 'warm');
    const image = join(out, 'busybox.img');
    const m = await manifestOf(out);
    assert.equal(await bmapProblem(out, m.image.bmap, image), undefined);
    const map = parseBmap(await readFile(join(out, m.image.bmap.file), 'utf8')) as Bmap;
    const range = map.ranges[Math.floor(map.ranges.length / 2)]!;
    const fh = await open(image, 'r+');
    try {
      const at = range.first * 4096 + 123;
      const b = Buffer.alloc(1);
      await fh.read(b, 0, 1, at);
      b[0] = b[0]! ^ 0x01;
      await fh.write(b, 0, 1, at);
    } finally {
      await fh.close();
    }
    const r = await check(image);
    assert.notEqual(r.exitCode, 0, r.stdout + r.stderr);
    assert.match(r.stderr, /checksum mismatch for blocks range/);
    assert.match((await bmapProblem(out, m.image.bmap, image)) ?? '', new RegExp(`blocks ${range.first}-${range.last} differ from the block map`));
  });

  it('--checksum sha256 records the whole image’s sha256 and no block map; --no-checksum neither', async () => {
    const out = join(dir.path, 'sha');
    const r = await build(out, ['--checksum', 'sha256', '--set', 'hostname=sha-one']);
    assert.equal(r.exitCode, 0, r.stdout + r.stderr);
    const m = await manifestOf(out);
    assert.equal(m.image.sha256, (await exec('sha256sum', [join(out, 'busybox.img')])).stdout.split(' ')[0]);
    assert.equal(m.image.bmap, undefined);
    await assert.rejects(lstat(join(out, 'busybox.img.bmap')), /ENOENT/);
    const none = await build(join(dir.path, 'none'), ['--no-checksum']);
    assert.equal(none.exitCode, 0, none.stdout + none.stderr);
    const n = await manifestOf(join(dir.path, 'none'));
    assert.equal(n.image.sha256, undefined);
    assert.equal(n.image.bmap, undefined);
  });

  it('links planted where the block map and the manifest go are replaced, never written through: the victims stay unchanged', async () => {
    const out = join(dir.path, 'planted');
    await mkdir(out);
    const victims = [join(dir.path, 'victim-bmap'), join(dir.path, 'victim-manifest')];
    for (const v of victims) await writeFile(v, 'victim\n');
    await symlink(victims[0]!, join(out, 'busybox.img.bmap'));
    await symlink(victims[1]!, join(out, 'busybox.manifest.json'));
    const r = await build(out, ['--set', 'hostname=planted']);
    assert.equal(r.exitCode, 0, r.stdout + r.stderr);
    for (const v of victims) assert.equal(await readFile(v, 'utf8'), 'victim\n', v);
    for (const f of ['busybox.img.bmap', 'busybox.manifest.json']) assert.ok((await lstat(join(out, f))).isFile(), `${f} is a file of its own now`);
    assert.equal((await check(join(out, 'busybox.img'))).exitCode, 0);
  });

  it('merge --in-place into a base recorded by its block map writes the map again: bmaptool checks the merged base, its manifest names the new map', async () => {
    const out = join(dir.path, 'cold');
    const image = join(out, 'busybox.img');
    const cow = join(out, 'child.cow');
    const map = parseBmap(await readFile(join(out, 'busybox.img.bmap'), 'utf8')) as Bmap;
    // A child the manifest records, with one sector inside a mapped range changed.
    await forgeCowOver(cow, image, { [map.ranges[0]!.first * 8 + 3]: 'MERGED-IN' });
    const m = await manifestOf(out);
    await writeFile(join(out, 'busybox.manifest.json'), JSON.stringify({ ...m, variants: [{ name: 'child', cow: 'child.cow', script: 'child.sh', allocated: 0, seconds: 0 }] }));
    const r = await exec(BIN, ['merge', '--in-place', cow], { reject: false });
    assert.equal(r.exitCode, 0, r.stdout + r.stderr);
    const after = await manifestOf(out);
    const text = await readFile(join(out, 'busybox.img.bmap'), 'utf8');
    assert.equal(after.image.bmap.sha256, sha(text));
    assert.notEqual(after.image.bmap.sha256, m.image.bmap.sha256, 'a new map for the new content');
    assert.equal((await check(image)).exitCode, 0);
    assert.equal(await bmapProblem(out, after.image.bmap, image), undefined);
  });
});
