/**
 * host/bmap: block maps in bmap-tools' format. A map updated from a base
 * map and the written ranges is the map made from scratch (same ranges, same
 * hashes); a map read back is untrusted (its own checksum, ranges in order,
 * within the image); verifyBmap finds a changed byte inside a range and data
 * outside the ranges. Small sparse files, no root.
 */
import assert from 'node:assert/strict';
import { open, readFile, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BMAP_BLOCK, bmapOf, bmapText, PIECE_BLOCKS, parseBmap, pieces, updateBmap, verifyBmap, type Bmap } from '../../src/host/bmap.js';
import { exec } from '../../src/host/exec.js';
import { requireTools } from '../support/skip.js';
import { tempDir, type TempDir } from '../helpers.js';

const MiB = 1 << 20;

async function writeAt(file: string, at: number, data: Buffer | string): Promise<void> {
  const fh = await open(file, 'r+');
  try {
    const b = Buffer.from(data);
    await fh.write(b, 0, b.length, at);
  } finally {
    await fh.close();
  }
}

describe('block maps (host/bmap)', () => {
  let dir: TempDir;
  let image: string;
  beforeEach(async () => {
    dir = await tempDir('umlbuild-bmap-unit-');
    image = join(dir.path, 'x.img');
    await writeFile(image, '');
    await truncate(image, 8 * MiB);
    await writeAt(image, 0, Buffer.alloc(3 * BMAP_BLOCK, 1));
    await writeAt(image, 3 * MiB, Buffer.alloc(2 * MiB, 2)); // spans a piece boundary
  });
  afterEach(() => dir.remove());

  it('pieces cut runs at multiples of PIECE_BLOCKS and merge adjacent ones', () => {
    assert.deepEqual(pieces([[0, 4096]], 8 * MiB), [[0, 0]]);
    assert.deepEqual(
      pieces(
        [
          [0, 100],
          [4096, 5000],
        ],
        8 * MiB,
      ),
      [[0, 1]],
    );
    assert.deepEqual(pieces([[(PIECE_BLOCKS - 1) * BMAP_BLOCK, (PIECE_BLOCKS + 1) * BMAP_BLOCK]], 8 * MiB), [
      [PIECE_BLOCKS - 1, PIECE_BLOCKS - 1],
      [PIECE_BLOCKS, PIECE_BLOCKS],
    ]);
    assert.deepEqual(pieces([[0, 10 * MiB]], 4096 * 3 + 5), [[0, 3]], 'not past the image');
  });

  it('a map updated from the base map and the written ranges equals the map made from scratch, rehashing only what was written', async () => {
    const base = await bmapOf(image);
    assert.ok(base.ranges.length >= 3, JSON.stringify(base.ranges.map((r) => [r.first, r.last])));
    // Writes inside a range, into a hole, and across the end of a range.
    const written: [number, number][] = [
      [3 * MiB + 5000, 3 * MiB + 5010],
      [6 * MiB + 100, 6 * MiB + 200],
    ];
    await writeAt(image, 3 * MiB + 5000, 'changed!!!');
    await writeAt(image, 6 * MiB + 100, Buffer.alloc(100, 7));
    const updated = await updateBmap(image, base, written);
    const fresh = await bmapOf(image);
    assert.deepEqual(
      updated.ranges.map((r) => [r.first, r.last, r.sha256]),
      fresh.ranges.map((r) => [r.first, r.last, r.sha256]),
    );
    assert.equal(updated.hashed, 2, 'the two written pieces, no other');
    assert.equal(await verifyBmap(image, updated), undefined);
  });

  it('verifyBmap: a changed byte inside a range, and data outside the ranges, are found', async () => {
    const map = await bmapOf(image);
    await writeAt(image, 3 * MiB + 17, 'x');
    assert.match((await verifyBmap(image, map)) ?? '', /blocks \d+-\d+ differ from the block map/);
    const clean = await bmapOf(image);
    await writeAt(image, 7 * MiB, 'outside');
    assert.match((await verifyBmap(image, clean)) ?? '', /outside the block map's ranges are not zero/);
  });

  it('its text is what bmaptool reads: the map checks the image, and fails after a changed byte', async function () {
    await requireTools(this, 'bmaptool');
    await writeFile(`${image}.bmap`, bmapText(await bmapOf(image), 'x.img'));
    assert.equal((await exec('bmaptool', ['copy', image, '/dev/null'], { reject: false })).exitCode, 0);
    await writeAt(image, 4 * MiB + 1, 'y');
    const r = await exec('bmaptool', ['copy', image, '/dev/null'], { reject: false });
    assert.notEqual(r.exitCode, 0);
    assert.match(r.stderr, /checksum mismatch/);
  });

  it('parseBmap refuses what is not an intact map of this image: a changed text, ranges out of order or past the end, no checksum', async () => {
    const text = bmapText(await bmapOf(image), 'x.img');
    const map = parseBmap(text) as Bmap;
    assert.equal(typeof map, 'object');
    assert.equal(map.imageSize, 8 * MiB);
    assert.match(String(parseBmap(text.replace('<ImageSize> 8388608', '<ImageSize> 8388609'))), /do not agree|BmapFileChecksum/);
    const r0 = map.ranges[0]!;
    assert.match(String(parseBmap(text.replace(`> ${r0.first}-${r0.last} <`, `> ${r0.first}-${r0.last + 1} <`))), /BmapFileChecksum does not match/);
    assert.match(String(parseBmap(text.replace(/<BmapFileChecksum>[^<]*</, '<BmapFileChecksum> x <'))), /no BmapFileChecksum/);
    assert.match(String(parseBmap('<bmap version="1.3">')), /format 2/);
    assert.match(String(parseBmap('x'.repeat(65 << 20))), /too large/);
    // Re-signed, but ranges out of order / past the end: refused by shape, not only by checksum.
    const { createHash } = await import('node:crypto');
    const resign = (t: string) => {
      const sum = /<BmapFileChecksum> ([0-9a-f]{64}) </.exec(t)![1]!;
      const zeroed = t.replace(sum, '0'.repeat(64));
      return zeroed.replace('0'.repeat(64), createHash('sha256').update(zeroed).digest('hex'));
    };
    const last = map.ranges[map.ranges.length - 1]!;
    assert.match(String(parseBmap(resign(text.replace(`> ${last.first}-${last.last} <`, `> ${last.first}-${2048 + 5} <`)))), /past the image's end/);
    assert.match(String(parseBmap(resign(text.replace(`> ${last.first}-${last.last} <`, `> 0-1 <`)))), /out of order/);
    assert.equal(typeof parseBmap(resign(text)), 'object', 'the re-signing itself is sound');
    assert.ok((await readFile(join(dir.path, 'x.img'))).length === 8 * MiB);
  });
});
