/**
 * What an e2fsprogs undo file says was written. `debugfs -w -z UNDO image`
 * (also tune2fs, resize2fs, e2fsck, mke2fs with -z) saves the old contents of
 * every block it overwrites in UNDO before it writes, so the undo file lists
 * exactly the byte ranges of the image that the run changed. This reads only
 * that list (not the saved contents), checking everything it reads: the file
 * may be untrusted, and a bad one is an Error, never a huge allocation or an
 * endless loop.
 *
 * Format (e2fsprogs lib/ext2fs/undo_io.c, all little-endian), in blocks of
 * `block_size` bytes:
 *
 *   block 0: header  0 magic "E2UNDO02"  8 num_keys (u64)  16 super_offset (u64)
 *            24 key_offset (u64)  32 block_size (u32)  36 fs_block_size (u32)
 *            40 sb_crc  44 state (1: finished)  48 f_compat  52 f_incompat
 *            56 f_rocompat  60 pad  64 fs_offset (u64)  ... 508 header_crc
 *   then, from key_offset: a key block (magic 0xCADECADE, crc, reserved,
 *   then keys {fsblk u64, blk_crc u32, size u32}), the saved data of its keys
 *   (each key `size` bytes, rounded up to whole blocks), the next key block...
 *
 * A key says: `size` bytes from byte fsblk * fs_block_size + fs_offset of the
 * image were overwritten. crc32c as e2fsprogs computes it (seed ~0, no final
 * inversion) guards the header and each key block.
 */
import { open } from 'node:fs/promises';

const MAGIC = 'E2UNDO02';
const KEYBLOCK_MAGIC = 0xcadecade;
const HEADER_LEN = 512;
const KEY_LEN = 16;
const MIN_BLOCK = 1024;
const MAX_BLOCK = 1 << 20;
const STATE_FINISHED = 0x1;
const FEATURE_FS_OFFSET = 0x1;

/** Byte ranges [start, end) of the image, sorted, merged, non-empty. */
export type ByteRange = [number, number];

export interface WrittenRanges {
  /** The file system's block size the undo file records (fs_block_size). */
  fsBlockSize: number;
  /** The image's changed bytes, [start, end) sorted and merged (adjacent ranges joined). */
  ranges: ByteRange[];
}

let table: Uint32Array | undefined;

/** crc32c (Castagnoli, reflected 0x82F63B78) of `buf` from `seed`, as ext2fs_crc32c_le: no final inversion. */
export function crc32c(buf: Uint8Array, seed = 0xffffffff): number {
  if (!table) {
    table = new Uint32Array(256);
    for (let i = 0; i < 256; i++) {
      let c = i;
      for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
      table[i] = c >>> 0;
    }
  }
  let crc = seed >>> 0;
  for (let i = 0; i < buf.length; i++) crc = (table[(crc ^ buf[i]!) & 0xff]! ^ (crc >>> 8)) >>> 0;
  return crc;
}

const bad = (file: string, why: string) => new Error(`${file}: not a usable e2fsprogs undo file: ${why}`);

/** A u64 that must fit a safe integer (offsets and counts in a real undo file do). */
function u64(buf: Buffer, at: number, file: string, what: string): number {
  const v = buf.readBigUInt64LE(at);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw bad(file, `${what} ${v} is out of range`);
  return Number(v);
}

/** Sort and merge byte ranges (overlapping or adjacent ones become one). */
export function mergeRanges(ranges: readonly ByteRange[]): ByteRange[] {
  const sorted = ranges.filter(([a, b]) => b > a).sort((x, y) => x[0] - y[0] || x[1] - y[1]);
  const out: ByteRange[] = [];
  for (const [a, b] of sorted) {
    const last = out[out.length - 1];
    if (last && a <= last[1]) last[1] = Math.max(last[1], b);
    else out.push([a, b]);
  }
  return out;
}

/**
 * The byte ranges of the image that the run which wrote `undoFile` changed.
 * Throws when the file is not a complete, intact undo file (bad magic or
 * checksum, a run that did not finish, keys or blocks outside the file).
 */
export async function writtenRanges(undoFile: string): Promise<WrittenRanges> {
  const fh = await open(undoFile, 'r');
  try {
    const fileSize = (await fh.stat()).size;
    const read = async (at: number, len: number): Promise<Buffer> => {
      if (at < 0 || at + len > fileSize) throw bad(undoFile, `block at byte ${at} is past its end (${fileSize} bytes)`);
      const buf = Buffer.alloc(len);
      const { bytesRead } = await fh.read(buf, 0, len, at);
      if (bytesRead !== len) throw bad(undoFile, `short read at byte ${at}`);
      return buf;
    };
    const h = await read(0, HEADER_LEN);
    if (h.toString('latin1', 0, 8) !== MAGIC) throw bad(undoFile, `no ${MAGIC} magic`);
    if (h.readUInt32LE(HEADER_LEN - 4) !== crc32c(h.subarray(0, HEADER_LEN - 4))) throw bad(undoFile, 'header checksum mismatch');
    const numKeys = u64(h, 8, undoFile, 'num_keys');
    const keyOffset = u64(h, 24, undoFile, 'key_offset');
    const blockSize = h.readUInt32LE(32);
    const fsBlockSize = h.readUInt32LE(36);
    const state = h.readUInt32LE(44);
    const compat = h.readUInt32LE(48);
    if (h.readUInt32LE(52) || h.readUInt32LE(56)) throw bad(undoFile, 'unknown incompatible features');
    const fsOffset = compat & FEATURE_FS_OFFSET ? u64(h, 64, undoFile, 'fs_offset') : 0;
    if (blockSize < MIN_BLOCK || blockSize > MAX_BLOCK || blockSize & (blockSize - 1)) throw bad(undoFile, `block_size ${blockSize}`);
    if (fsBlockSize < MIN_BLOCK || fsBlockSize > MAX_BLOCK || fsBlockSize & (fsBlockSize - 1)) throw bad(undoFile, `fs_block_size ${fsBlockSize}`);
    if (!(state & STATE_FINISHED)) throw bad(undoFile, 'the run that wrote it did not finish');
    const keysPerBlock = blockSize / KEY_LEN - 1;
    // Every key takes at least one data block and every keysPerBlock keys a key block: more keys cannot fit the file.
    if (numKeys > Math.floor(fileSize / blockSize)) throw bad(undoFile, `${numKeys} keys cannot fit in ${fileSize} bytes`);
    const ranges: ByteRange[] = [];
    let blk = keyOffset;
    for (let i = 0; i < numKeys; i += keysPerBlock) {
      if (blk < 1 || blk > fileSize / blockSize) throw bad(undoFile, `key block ${blk} is past its end`);
      const kb = await read(blk * blockSize, blockSize);
      if (kb.readUInt32LE(0) !== KEYBLOCK_MAGIC) throw bad(undoFile, `key block ${blk} has no key block magic`);
      const crc = kb.readUInt32LE(4);
      kb.writeUInt32LE(0, 4);
      if (crc !== crc32c(kb)) throw bad(undoFile, `key block ${blk} checksum mismatch`);
      blk++;
      for (let j = 0; j < Math.min(keysPerBlock, numKeys - i); j++) {
        const at = KEY_LEN * (j + 1);
        const fsblk = u64(kb, at, undoFile, 'fsblk');
        const size = kb.readUInt32LE(at + 12);
        if (size === 0) throw bad(undoFile, `key ${i + j} is empty`);
        const start = fsblk * fsBlockSize + fsOffset;
        if (!Number.isSafeInteger(start + size)) throw bad(undoFile, `key ${i + j} is out of range`);
        ranges.push([start, start + size]);
        blk += Math.ceil(size / blockSize);
      }
    }
    if ((blk - 1) * blockSize >= fileSize) throw bad(undoFile, `its saved blocks run past its end (${fileSize} bytes)`);
    return { fsBlockSize, ranges: mergeRanges(ranges) };
  } finally {
    await fh.close();
  }
}
