/**
 * Write a UML COW file (version 3) directly, without booting UML: the header
 * UML's ubd driver writes (backing file path, its mtime and size, 512-byte
 * sectors, 4096-byte alignment, bitmap format), the bitmap, and the changed
 * sectors at data offset + sector × 512, in a sparse file of data offset +
 * backing size bytes, as UML makes it (arch/um/drivers/cow_user.c).
 *
 * The changes come from an edited copy of the backing file and the byte
 * ranges where the copy may differ from it (an e2fsprogs undo file lists
 * them: host/e2undo.ts). A sector goes into the COW only when its bytes
 * differ. The backing file is read through an open descriptor (never by
 * name), the COW file is created new (O_EXCL|O_NOFOLLOW): no link is followed
 * for reading or writing.
 */
import type { FileHandle } from 'node:fs/promises';
import type { ByteRange } from '../host/e2undo.js';
import { createNewFile, type PinnedFile } from '../host/pinned-file.js';
import { formatCowHeader, parseCowHeader } from './cow.js';

export const COW_SECTOR = 512;
/** Bytes compared and copied at a time. */
const CHUNK = 1 << 20;

export interface CowFromCopy {
  /** The COW file to create; must not exist. */
  cow: string;
  /** The backing file, opened (read only). */
  base: PinnedFile;
  /** The backing path recorded in the header (absolute, as UML makes it). */
  backingFile: string;
  /** The edited copy of the backing file (same size), open for reading and writing. */
  copy: FileHandle;
  /** Where the copy may differ from the base. */
  ranges: readonly ByteRange[];
  /** Put the base's bytes back into the copy over `ranges` once read (so it equals the base again). */
  restoreCopy?: boolean;
  mode?: number;
}

/** Why `size` cannot back a COW file written here, if it cannot. */
export function cowSizeProblem(size: number): string | undefined {
  if (size <= 0 || size % 4096) return `its size (${size} bytes) is not a multiple of 4096`;
  return undefined;
}

async function readFully(fh: FileHandle, buf: Buffer, len: number, at: number): Promise<void> {
  let done = 0;
  while (done < len) {
    const { bytesRead } = await fh.read(buf, done, len - done, at + done);
    if (!bytesRead) throw new Error(`short read at byte ${at + done}`);
    done += bytesRead;
  }
}

/** Write the COW file; returns how many sectors it holds. Removes nothing on failure (the caller's teardown does). */
export async function writeCowFromCopy(o: CowFromCopy): Promise<{ sectors: number }> {
  const size = o.base.stat.size;
  const problem = cowSizeProblem(size);
  if (problem) throw new Error(`${o.base.name}: ${problem}`);
  const copySize = (await o.copy.stat()).size;
  if (copySize !== size) throw new Error(`the edited copy of ${o.base.name} has ${copySize} bytes, not ${size}`);
  for (const [a, b] of o.ranges) {
    if (!(Number.isSafeInteger(a) && Number.isSafeInteger(b) && a >= 0 && a < b && b <= size)) throw new Error(`changed range [${a}, ${b}) is outside ${o.base.name} (${size} bytes)`);
  }
  const header = formatCowHeader({ backingFile: o.backingFile, mtime: Math.floor(o.base.stat.mtimeMs / 1000), size: BigInt(size) });
  const layout = parseCowHeader(header)!;
  const out = await createNewFile(o.cow, o.mode ?? 0o644);
  try {
    await out.fh.write(header, 0, header.length, 0);
    await out.fh.truncate(layout.dataOffset + size);
    const bitmap = new Map<number, number>();
    const fresh = Buffer.alloc(CHUNK);
    const old = Buffer.alloc(CHUNK);
    let sectors = 0;
    for (const [a, b] of o.ranges) {
      const from = Math.floor(a / COW_SECTOR) * COW_SECTOR;
      const to = Math.min(size, Math.ceil(b / COW_SECTOR) * COW_SECTOR);
      for (let at = from; at < to; at += CHUNK) {
        const len = Math.min(CHUNK, to - at);
        await readFully(o.copy, fresh, len, at);
        await readFully(o.base.fh, old, len, at);
        // Runs of changed sectors, each written in one go.
        let run = -1;
        const flush = async (end: number) => {
          if (run < 0) return;
          await out.fh.write(fresh, run, end - run, layout.dataOffset + at + run);
          run = -1;
        };
        for (let off = 0; off < len; off += COW_SECTOR) {
          if (fresh.compare(old, off, off + COW_SECTOR, off, off + COW_SECTOR) === 0) {
            await flush(off);
            continue;
          }
          if (run < 0) run = off;
          const sector = (at + off) / COW_SECTOR;
          bitmap.set(sector >> 3, (bitmap.get(sector >> 3) ?? 0) | (1 << (sector & 7)));
          sectors++;
        }
        await flush(len);
        if (o.restoreCopy) await o.copy.write(old, 0, len, at);
      }
    }
    // The bitmap bytes that have bits, in runs of consecutive bytes.
    const keys = [...bitmap.keys()].sort((x, y) => x - y);
    for (let i = 0; i < keys.length; ) {
      let j = i;
      while (j + 1 < keys.length && keys[j + 1] === keys[j]! + 1) j++;
      const bytes = Buffer.from(keys.slice(i, j + 1).map((k) => bitmap.get(k)!));
      await out.fh.write(bytes, 0, bytes.length, layout.bitmapOffset + keys[i]!);
      i = j + 1;
    }
    return { sectors };
  } finally {
    await out.close();
  }
}
