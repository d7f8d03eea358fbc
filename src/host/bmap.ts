/**
 * The image's integrity record: a block map in bmap-tools' XML format 2.0
 * (`<image>.bmap`), the list of the image's mapped (data) blocks with a
 * sha256 per range, and the sha256 of the map itself. A user checks an image
 * with the standard tool, which reads every range and compares its sha256:
 *
 *   bmaptool copy --bmap X.img.bmap X.img /dev/null
 *
 * Ranges are cut at multiples of PIECE_BLOCKS, so a warm build (a cached base
 * image plus a few debugfs edits) rehashes only the pieces its edits wrote
 * (known from debugfs's undo file, host/e2undo) and takes the others' hashes
 * from the base image's map: milliseconds instead of hashing the whole image.
 * umlbuild's own check (verifyBmap: merge, verify-cow) also requires that
 * nothing outside the ranges holds data other than zeros, so a map that
 * checks is as strong as a sha256 of the whole image.
 */
import { createHash } from 'node:crypto';
import { open, stat } from 'node:fs/promises';
import { dataRanges } from './hashing.js';

/** bmaptool's block size. */
export const BMAP_BLOCK = 4096;
/** Mapped blocks are hashed in pieces of at most this many blocks (1 MiB), aligned to multiples of it. */
export const PIECE_BLOCKS = 256;
/** A map bigger than this is not read back (a 64 GiB image full of data maps to ~7 MB). */
const MAX_BMAP = 64 << 20;

/** A range of blocks [first, last] (inclusive, as the XML says) and the sha256 of its bytes. */
export interface BmapRange {
  first: number;
  last: number;
  sha256: string;
}

export interface Bmap {
  imageSize: number;
  ranges: BmapRange[];
  /** How many of the ranges were hashed (read) to make this map; the others came from a base map. */
  hashed?: number;
}

/** Byte ranges [start, end). */
export type Bytes = [number, number][];

/** Runs of blocks [first, last] covering the byte ranges (within `size`), merged, cut at piece boundaries. */
export function pieces(ranges: Bytes, size: number): [number, number][] {
  const blocks = ranges
    .map(([s, e]) => [Math.floor(s / BMAP_BLOCK), Math.ceil(Math.min(e, size) / BMAP_BLOCK) - 1] as [number, number])
    .filter(([a, b]) => b >= a)
    .sort((x, y) => x[0] - y[0]);
  const runs: [number, number][] = [];
  for (const [a, b] of blocks) {
    const last = runs[runs.length - 1];
    if (last && a <= last[1] + 1) last[1] = Math.max(last[1], b);
    else runs.push([a, b]);
  }
  const out: [number, number][] = [];
  for (const [a, b] of runs) {
    for (let first = a; first <= b; ) {
      const end = Math.min(b, (Math.floor(first / PIECE_BLOCKS) + 1) * PIECE_BLOCKS - 1);
      out.push([first, end]);
      first = end + 1;
    }
  }
  return out;
}

type Reader = { read(buf: Buffer, off: number, len: number, pos: number): Promise<{ bytesRead: number }> };

async function hashBlocks(fh: Reader, first: number, last: number, size: number, buf: Buffer): Promise<string> {
  const hash = createHash('sha256');
  const end = Math.min((last + 1) * BMAP_BLOCK, size);
  for (let pos = first * BMAP_BLOCK; pos < end; ) {
    const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, end - pos), pos);
    if (!bytesRead) throw new Error(`the image is shorter than ${size} bytes`);
    hash.update(buf.subarray(0, bytesRead));
    pos += bytesRead;
  }
  return hash.digest('hex');
}

/** Hash `runs` of `file`, taking a run's hash from `known` (by "first-last") when given. */
async function hashRuns(file: string, size: number, runs: [number, number][], known?: (first: number, last: number) => string | undefined): Promise<Bmap> {
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(PIECE_BLOCKS * BMAP_BLOCK);
    const ranges: BmapRange[] = [];
    let hashed = 0;
    for (const [first, last] of runs) {
      let sha256 = known?.(first, last);
      if (sha256 === undefined) {
        sha256 = await hashBlocks(fh, first, last, size, buf);
        hashed++;
      }
      ranges.push({ first, last, sha256 });
    }
    return { imageSize: size, ranges, hashed };
  } finally {
    await fh.close();
  }
}

/** The block map of `file`: its data extents (filefrag, synced), every block of them hashed. */
export async function bmapOf(file: string): Promise<Bmap> {
  const size = (await stat(file)).size;
  const ranges = (await dataRanges(file)) ?? [[0, size]];
  return hashRuns(file, size, pieces(ranges, size));
}

/**
 * The block map of `file`, a copy of the image `base` maps with the byte
 * ranges `written` changed since: the ranges of both, rehashing only the
 * pieces that were written (or are new); the other hashes are the base's.
 */
export async function updateBmap(file: string, base: Bmap, written: Bytes): Promise<Bmap> {
  const size = (await stat(file)).size;
  if (size !== base.imageSize) return bmapOf(file);
  const dirty = pieces(written, size);
  const baseHash = new Map(base.ranges.map((r) => [`${r.first}-${r.last}`, r.sha256]));
  const runs = pieces([...base.ranges.map((r) => [r.first * BMAP_BLOCK, (r.last + 1) * BMAP_BLOCK] as [number, number]), ...written], size);
  let d = 0;
  const known = (first: number, last: number) => {
    while (d < dirty.length && dirty[d]![1] < first) d++;
    if (d < dirty.length && dirty[d]![0] <= last) return undefined;
    return baseHash.get(`${first}-${last}`);
  };
  return hashRuns(file, size, runs, known);
}

const ZERO_SUM = '0'.repeat(64);

/** The XML of a block map (bmap-tools format 2.0), with its BmapFileChecksum. */
export function bmapText(map: Bmap, imageName = 'the image'): string {
  const blocks = Math.ceil(map.imageSize / BMAP_BLOCK);
  const mapped = map.ranges.reduce((n, r) => n + r.last - r.first + 1, 0);
  const text = [
    '<?xml version="1.0" ?>',
    `<!-- The block map of ${imageName.replace(/-(?=-)/g, '- ')}, written by umlbuild: its mapped blocks, with the sha256 of each range.`,
    '     Check the image against it with bmap-tools: bmaptool copy IMAGE /dev/null (it reads IMAGE.bmap and compares every range). -->',
    '<bmap version="2.0">',
    `    <ImageSize> ${map.imageSize} </ImageSize>`,
    `    <BlockSize> ${BMAP_BLOCK} </BlockSize>`,
    `    <BlocksCount> ${blocks} </BlocksCount>`,
    `    <MappedBlocksCount> ${mapped} </MappedBlocksCount>`,
    '    <ChecksumType> sha256 </ChecksumType>',
    `    <BmapFileChecksum> ${ZERO_SUM} </BmapFileChecksum>`,
    '    <BlockMap>',
    ...map.ranges.map((r) => `        <Range chksum="${r.sha256}"> ${r.first}-${r.last} </Range>`),
    '    </BlockMap>',
    '</bmap>',
    '',
  ].join('\n');
  const sum = createHash('sha256').update(text).digest('hex');
  return text.replace(`<BmapFileChecksum> ${ZERO_SUM} </BmapFileChecksum>`, `<BmapFileChecksum> ${sum} </BmapFileChecksum>`);
}

const field = (text: string, tag: string): string | undefined => new RegExp(`<${tag}>\\s*([^<\\s]*)\\s*</${tag}>`).exec(text)?.[1];

/** A block map read back (untrusted: any file may sit beside an image): its ranges, or why it is not one. */
export function parseBmap(text: string): Bmap | string {
  if (text.length > MAX_BMAP) return `${text.length} bytes is too large for a block map`;
  if (!/<bmap version="2\.\d+">/.test(text)) return 'not a bmap file of format 2.x';
  const num = (tag: string) => {
    const v = field(text, tag);
    return v !== undefined && /^\d{1,15}$/.test(v) ? Number(v) : undefined;
  };
  const imageSize = num('ImageSize');
  const blockSize = num('BlockSize');
  const blocks = num('BlocksCount');
  if (imageSize === undefined || blockSize !== BMAP_BLOCK || blocks !== Math.ceil(imageSize / BMAP_BLOCK)) return 'ImageSize, BlockSize and BlocksCount do not agree';
  if (field(text, 'ChecksumType') !== 'sha256') return 'its ChecksumType is not sha256';
  const sum = field(text, 'BmapFileChecksum');
  if (!sum || !/^[0-9a-f]{64}$/.test(sum)) return 'no BmapFileChecksum';
  if (createHash('sha256').update(text.replace(sum, ZERO_SUM)).digest('hex') !== sum) return 'its BmapFileChecksum does not match its text';
  const ranges: BmapRange[] = [];
  for (const m of text.matchAll(/<Range\s+chksum="([0-9a-f]{64})">\s*(\d{1,15})\s*(?:-\s*(\d{1,15})\s*)?<\/Range>/g)) {
    const first = Number(m[2]);
    const last = m[3] === undefined ? first : Number(m[3]);
    const prev = ranges[ranges.length - 1];
    if (last < first || last >= blocks || (prev && first <= prev.last)) return `range ${first}-${last} is out of order or past the image's end`;
    ranges.push({ first, last, sha256: m[1]! });
  }
  if ((text.match(/<Range\b/g) ?? []).length !== ranges.length) return 'a range without a sha256';
  return { imageSize, ranges };
}

/**
 * Whether `file` has the content `map` records: its size, the sha256 of
 * every range, and nothing but zeros outside the ranges (its data extents
 * there are read). Undefined when it does; else what differs.
 */
export async function verifyBmap(file: string, map: Bmap): Promise<string | undefined> {
  const size = (await stat(file)).size;
  if (size !== map.imageSize) return `its size is ${size} bytes, the block map says ${map.imageSize}`;
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(PIECE_BLOCKS * BMAP_BLOCK);
    for (const r of map.ranges) if ((await hashBlocks(fh, r.first, r.last, size, buf)) !== r.sha256) return `blocks ${r.first}-${r.last} differ from the block map`;
    // Outside the ranges: the data extents there (all of it when they cannot be had) must read as zeros.
    const mapped = map.ranges.map((r) => [r.first * BMAP_BLOCK, Math.min((r.last + 1) * BMAP_BLOCK, size)] as [number, number]);
    for (const [s, e] of outside((await dataRanges(file)) ?? [[0, size]], mapped)) {
      for (let pos = s; pos < Math.min(e, size); ) {
        const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, e - pos), pos);
        if (!bytesRead) break;
        if (buf.subarray(0, bytesRead).some((b) => b !== 0)) return `bytes at ${pos} outside the block map's ranges are not zero`;
        pos += bytesRead;
      }
    }
    return undefined;
  } finally {
    await fh.close();
  }
}

/** The parts of `data` outside `mapped` (both sorted byte ranges). */
function outside(data: Bytes, mapped: Bytes): Bytes {
  const out: Bytes = [];
  let m = 0;
  for (const [s0, e] of data) {
    let s = s0;
    while (m < mapped.length && mapped[m]![1] <= s) m++;
    for (let k = m; k < mapped.length && mapped[k]![0] < e && s < e; k++) {
      if (mapped[k]![0] > s) out.push([s, mapped[k]![0]]);
      s = Math.max(s, mapped[k]![1]);
    }
    if (s < e) out.push([s, e]);
  }
  return out;
}
