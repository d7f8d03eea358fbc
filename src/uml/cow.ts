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
import type { Stats } from 'node:fs';
import { lstat, readdir, realpath } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileKind, openRegularFile } from '../host/pinned-file.js';

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
  if (!sectorSize || !alignment) return undefined;
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

/** The header bytes for `h` (the inverse of parseCowHeader): for tests and tools. */
export function formatCowHeader(h: Pick<CowHeader, 'mtime' | 'size' | 'backingFile'> & Partial<Pick<CowHeader, 'sectorSize' | 'alignment' | 'format'>>): Buffer {
  const buf = Buffer.alloc(HEADER_LEN);
  const path = Buffer.from(h.backingFile, 'utf8');
  if (path.length >= PATH_LEN) throw new Error(`backing file name too long: ${h.backingFile}`);
  buf.writeUInt32BE(COW_MAGIC, 0);
  buf.writeUInt32BE(3, 4);
  buf.writeUInt32BE(h.mtime, 8);
  buf.writeBigUInt64BE(h.size, 12);
  buf.writeUInt32BE(h.sectorSize ?? 512, 20);
  buf.writeUInt32BE(h.alignment ?? 4096, 24);
  buf.writeUInt32BE(h.format ?? 0, 28);
  path.copy(buf, 32);
  return buf;
}

/**
 * The header of a COW file, or undefined when it is not one. Never opens a
 * link, FIFO or device (a FIFO named *.cow would block the open for ever).
 */
export async function readCowHeader(file: string): Promise<CowHeader | undefined> {
  const f = await openRegularFile(file, 'COW file').catch(() => undefined);
  if (!f) return undefined;
  try {
    const buf = Buffer.alloc(HEADER_LEN);
    await f.fh.read(buf, 0, HEADER_LEN, 0);
    return parseCowHeader(buf);
  } finally {
    await f.close();
  }
}

export interface CowCheck {
  ok: boolean;
  problem?: string;
  header?: CowHeader;
}

/** Why UML would refuse `header` over a base with these size and mtime, if it would. */
export function baseMismatch(header: CowHeader, base: string, st: Stats): string | undefined {
  if (BigInt(st.size) !== header.size) return `size mismatch: ${base} is ${st.size} bytes, the COW file expects ${header.size}`;
  const mtime = Math.floor(st.mtimeMs / 1000);
  if (mtime !== header.mtime) {
    return `mtime mismatch: ${base} was modified at ${new Date(mtime * 1000).toISOString()}, the COW file expects ${new Date(header.mtime * 1000).toISOString()} (UML refuses to boot it)`;
  }
  return undefined;
}

/**
 * Whether UML would accept this COW file over its backing file (mtime and
 * size). The COW file and the backing file must be regular files, not links.
 */
export async function checkCow(file: string): Promise<CowCheck> {
  const st = await lstat(file).catch(() => undefined);
  if (st && !st.isFile()) return { ok: false, problem: `${file} is ${fileKind(st)}, not a COW file` };
  const header = await readCowHeader(file);
  if (!header) return { ok: false, problem: `${file} is not a UML COW file (version 3)` };
  const base = resolve(header.backingFile);
  const bst = await lstat(base).catch(() => undefined);
  if (!bst) return { ok: false, problem: `its backing file ${base} is missing`, header };
  if (!bst.isFile()) return { ok: false, problem: `its backing file ${base} is ${fileKind(bst)}, not a regular file (refused)`, header };
  const problem = baseMismatch(header, base, bst);
  return problem ? { ok: false, problem, header } : { ok: true, header };
}

/** COW files in `dir` whose backing file is `image` (regular files only: FIFOs and links are skipped). */
export async function cowChildren(image: string, dir: string): Promise<string[]> {
  const target = await realpath(image).catch(() => image);
  const out: string[] = [];
  for (const name of (await readdir(dir).catch(() => [] as string[])).sort()) {
    if (!name.endsWith('.cow') || name.startsWith('.')) continue;
    const header = await readCowHeader(join(dir, name));
    if (!header) continue;
    const backing = await realpath(header.backingFile).catch(() => header.backingFile);
    if (backing === target) out.push(join(dir, name));
  }
  return out;
}
