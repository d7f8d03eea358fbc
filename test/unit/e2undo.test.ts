/**
 * The undo-file reader (src/host/e2undo.ts): the byte ranges a `debugfs -w -z`
 * run wrote, checked against a byte-by-byte comparison of the image before
 * and after, and refusals of crafted undo files (no root: mkfs and debugfs on
 * a small image file in the test's temp dir).
 */
import assert from 'node:assert/strict';
import { copyFile, open, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { exec } from '../../src/host/exec.js';
import { crc32c, mergeRanges, writtenRanges } from '../../src/host/e2undo.js';
import { rejection, tempDir, type TempDir } from '../helpers.js';

/** Blocks of `size` bytes that differ between two files of the same length. */
async function changedBlocks(a: string, b: string, size: number): Promise<number[]> {
  const [x, y] = [await readFile(a), await readFile(b)];
  const out: number[] = [];
  for (let i = 0; i * size < x.length; i++) if (!x.subarray(i * size, (i + 1) * size).equals(y.subarray(i * size, (i + 1) * size))) out.push(i);
  return out;
}

describe('e2undo: the ranges a debugfs run wrote', () => {
  let dir: TempDir;
  let image: string;
  before(async () => {
    dir = await tempDir('umlbuild-e2undo-');
    image = join(dir.path, 'fs.img');
    await exec('mkfs.ext4', ['-q', '-F', '-b', '4096', '-E', 'root_owner=0:0', image, '16M']);
    await exec('debugfs', ['-w', '-R', 'mkdir /etc', image]);
  });
  after(() => dir.remove());

  it('crc32c is ext2fs_crc32c_le: Castagnoli with seed ~0 and no final inversion', () => {
    // The standard check value of CRC-32C over "123456789" is 0xE3069283 (with the final inversion).
    assert.equal(crc32c(Buffer.from('123456789')), ~0xe3069283 >>> 0);
  });

  it('mergeRanges sorts and joins overlapping and adjacent ranges, and drops empty ones', () => {
    assert.deepEqual(
      mergeRanges([
        [8, 12],
        [0, 4],
        [4, 6],
        [10, 20],
        [30, 30],
      ]),
      [
        [0, 6],
        [8, 20],
      ],
    );
  });

  it('lists every block the run changed (and the file system block size)', async () => {
    const before = join(dir.path, 'before.img');
    const edited = join(dir.path, 'edited.img');
    await copyFile(image, before);
    await copyFile(image, edited);
    const content = join(dir.path, 'content');
    await writeFile(content, 'x'.repeat(10000));
    const undo = join(dir.path, 'edit.undo');
    await exec('debugfs', ['-w', '-z', undo, '-f', '-', edited], { input: `write ${content} /etc/big\nmkdir /etc/sub\nsymlink /etc/link /etc/big\n` });
    const r = await writtenRanges(undo);
    assert.equal(r.fsBlockSize, 4096);
    const changed = await changedBlocks(before, edited, 4096);
    assert.ok(changed.length >= 4, `debugfs changed ${changed.length} blocks`);
    for (const b of changed)
      assert.ok(
        r.ranges.some(([s, e]) => s <= b * 4096 && (b + 1) * 4096 <= e),
        `changed block ${b} is in a listed range`,
      );
    // And the ranges are blocks of the image, not more than a handful beyond those that changed (a block rewritten with its old bytes is listed too).
    for (const [s, e] of r.ranges) assert.ok(s % 4096 === 0 && e % 4096 === 0 && e <= (await readFile(edited)).length);
    // e2undo with the same file restores the image exactly: the file is the one e2fsprogs reads.
    await exec('e2undo', [undo, edited]);
    assert.deepEqual(await changedBlocks(before, edited, 4096), []);
  });

  describe('crafted undo files are refused, never trusted', () => {
    let good: Buffer;
    before(async () => {
      const copy = join(dir.path, 'crafted-base.img');
      await copyFile(image, copy);
      const undo = join(dir.path, 'good.undo');
      await exec('debugfs', ['-w', '-z', undo, '-R', 'mkdir /etc/crafted', copy]);
      good = await readFile(undo);
    });
    const fixHeaderCrc = (b: Buffer) => b.writeUInt32LE(crc32c(b.subarray(0, 508)), 508);
    const refused = async (name: string, mutate: (b: Buffer) => unknown, message: RegExp) => {
      const b = Buffer.from(good);
      const file = join(dir.path, name);
      const changed = mutate(b);
      await writeFile(file, Buffer.isBuffer(changed) ? changed : b);
      const e = await rejection(writtenRanges(file));
      assert.match(e.message, message);
      assert.ok(e.message.includes(file), 'names the file');
    };

    it('the untouched file reads', async () => {
      const file = join(dir.path, 'good-again.undo');
      await writeFile(file, good);
      assert.ok((await writtenRanges(file)).ranges.length > 0);
    });
    it('wrong magic', () => refused('magic.undo', (b) => void b.write('E2UNDO01', 0, 'latin1'), /no E2UNDO02 magic/));
    it('a header changed without its checksum', () => refused('hcrc.undo', (b) => void b.writeUInt32LE(3, 8), /header checksum mismatch/));
    it('a run that did not finish', () =>
      refused(
        'unfinished.undo',
        (b) => {
          b.writeUInt32LE(0, 44);
          fixHeaderCrc(b);
        },
        /did not finish/,
      ));
    it('more keys than the file can hold (no endless loop, no huge allocation)', () =>
      refused(
        'keys.undo',
        (b) => {
          b.writeBigUInt64LE(2n ** 52n, 8);
          fixHeaderCrc(b);
        },
        /keys cannot fit/,
      ));
    it('a block size out of range', () =>
      refused(
        'bs.undo',
        (b) => {
          b.writeUInt32LE(3000, 32);
          fixHeaderCrc(b);
        },
        /block_size 3000/,
      ));
    it('a key block past its end', () =>
      refused(
        'keyoff.undo',
        (b) => {
          b.writeBigUInt64LE(1000000n, 24);
          fixHeaderCrc(b);
        },
        /past its end/,
      ));
    it('a key changed without its key block checksum', () =>
      refused(
        'kcrc.undo',
        (b) => {
          const at = Number(b.readBigUInt64LE(24)) * b.readUInt32LE(32);
          b.writeBigUInt64LE(12345n, at + 16);
        },
        /key block \d+ checksum mismatch/,
      ));
    it('a truncated file', () => refused('short.undo', (b) => b.subarray(0, 300), /past its end/));
    it('an empty file', async () => {
      const file = join(dir.path, 'empty.undo');
      await (await open(file, 'w')).close();
      assert.match((await rejection(writtenRanges(file))).message, /past its end/);
    });
  });
});
