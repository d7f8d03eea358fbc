/**
 * UML COW files (version 3), as UML's ubd driver and uml_mkcow write them.
 * All fields big-endian:
 *
 *   0 magic "OOOM" (0x4F4F4F4D)   4 version (3)   8 backing mtime (u32)
 *  12 backing size (u64)          20 sector size  24 alignment   28 cow_format
 *  32 backing file path [4096]
 *
 * The bitmap (one bit per sector) starts at the header rounded up to the
 * alignment; data starts after the bitmap, rounded up again.
 */
import { open, readdir, realpath, stat } from 'node:fs/promises';
import { join } from 'node:path';

export const COW_MAGIC = 0x4f4f4f4d;
const PATH_LEN = 4096;
const HEADER_LEN = 32 + PATH_LEN;

export interface CowHeader {
  version: number;
  mtime: number;
  size: bigint;
  sectorSize: number;
  alignment: number;
  format: number;
  backingFile: string;
  bitmapOffset: number;
  dataOffset: number;
}

const roundUp = (n: number, a: number) => Math.ceil(n / a) * a;

export function parseCowHeader(buf: Buffer): CowHeader | undefined {
  if (buf.length < HEADER_LEN || buf.readUInt32BE(0) !== COW_MAGIC) return undefined;
  const version = buf.readUInt32BE(4);
  if (version !== 3) return undefined;
  const size = buf.readBigUInt64BE(12);
  const sectorSize = buf.readUInt32BE(20);
  const alignment = buf.readUInt32BE(24);
  const path = buf.subarray(32, 32 + PATH_LEN);
  const end = path.indexOf(0);
  const bitmapOffset = roundUp(HEADER_LEN, alignment);
  const bitmapLen = Math.ceil(Number(size) / sectorSize / 8);
  return {
    version,
    mtime: buf.readUInt32BE(8),
    size,
    sectorSize,
    alignment,
    format: buf.readUInt32BE(28),
    backingFile: path.subarray(0, end < 0 ? PATH_LEN : end).toString('utf8'),
    bitmapOffset,
    dataOffset: roundUp(bitmapOffset + bitmapLen, alignment),
  };
}

export async function readCowHeader(file: string): Promise<CowHeader | undefined> {
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.alloc(HEADER_LEN);
    await fh.read(buf, 0, HEADER_LEN, 0);
    return parseCowHeader(buf);
  } finally {
    await fh.close();
  }
}

export interface CowCheck {
  ok: boolean;
  problem?: string;
  header?: CowHeader;
}

/** Whether UML would accept this COW file over its backing file (mtime and size). */
export async function checkCow(file: string, backing?: string): Promise<CowCheck> {
  const header = await readCowHeader(file).catch(() => undefined);
  if (!header) return { ok: false, problem: `${file} is not a UML COW file (version 3)` };
  const base = backing ?? header.backingFile;
  const st = await stat(base).catch(() => undefined);
  if (!st) return { ok: false, problem: `its backing file ${base} is missing`, header };
  if (BigInt(st.size) !== header.size) return { ok: false, problem: `size mismatch: ${base} is ${st.size} bytes, the COW file expects ${header.size}`, header };
  const mtime = Math.floor(st.mtimeMs / 1000);
  if (mtime !== header.mtime) {
    return { ok: false, problem: `mtime mismatch: ${base} was modified at ${new Date(mtime * 1000).toISOString()}, the COW file expects ${new Date(header.mtime * 1000).toISOString()} (UML refuses to boot it)`, header };
  }
  return { ok: true, header };
}

/** COW files in `dir` whose backing file is `image`. */
export async function cowChildren(image: string, dir: string): Promise<string[]> {
  const target = await realpath(image).catch(() => image);
  const out: string[] = [];
  for (const name of (await readdir(dir).catch(() => [] as string[])).sort()) {
    if (!name.endsWith('.cow') || name.startsWith('.')) continue;
    const header = await readCowHeader(join(dir, name)).catch(() => undefined);
    if (!header) continue;
    const backing = await realpath(header.backingFile).catch(() => header.backingFile);
    if (backing === target) out.push(join(dir, name));
  }
  return out;
}
