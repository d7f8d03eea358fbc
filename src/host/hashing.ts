/** sha256 of files (sparse-aware) and of text: image checksums, cache keys, launch script hashes. */
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { exec } from './exec.js';

const CHUNK = 8 << 20;

/**
 * The data ranges of a sparse file ([start, end) in bytes), from its extent
 * map (filefrag -s: synced first, so nothing is delayed); undefined when the
 * map cannot be had (then the whole file is read).
 */
export async function dataRanges(file: string): Promise<[number, number][] | undefined> {
  const r = await exec('filefrag', ['-s', '-e', file], { reject: false });
  const block = Number(/blocks of (\d+) bytes/.exec(r.stdout)?.[1]);
  if (r.exitCode !== 0 || !block) return undefined;
  const ranges: [number, number][] = [];
  for (const m of r.stdout.matchAll(/^\s*\d+:\s+(\d+)\.\.\s*(\d+):/gm)) ranges.push([Number(m[1]) * block, (Number(m[2]) + 1) * block]);
  return ranges.sort((a, b) => a[0] - b[0]);
}

/**
 * sha256 of a file. Holes are hashed as the zeros they read as, without
 * reading them: reading a hole makes the kernel fill page cache with zero
 * pages, which made a 2 GiB image with 390 MB of data take 5.5 s instead of 1.3 s.
 */
export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  const fh = await open(file, 'r');
  try {
    const size = (await fh.stat()).size;
    const buf = Buffer.allocUnsafe(CHUNK);
    const readRange = async (start: number, end: number) => {
      for (let pos = start; pos < end; ) {
        const { bytesRead } = await fh.read(buf, 0, Math.min(CHUNK, end - pos), pos);
        if (!bytesRead) throw new Error(`${file} is shorter than its size`);
        hash.update(buf.subarray(0, bytesRead));
        pos += bytesRead;
      }
    };
    const zeros = (n: number) => {
      const z = Buffer.alloc(Math.min(CHUNK, n));
      for (let left = n; left > 0; left -= z.length) hash.update(left >= z.length ? z : z.subarray(0, left));
    };
    const ranges = (await dataRanges(file)) ?? [[0, size]];
    let pos = 0;
    for (const [s, e] of ranges) {
      const start = Math.max(s, pos);
      const end = Math.min(e, size);
      if (end <= start) continue;
      if (start > pos) zeros(start - pos);
      await readRange(start, end);
      pos = end;
    }
    if (pos < size) zeros(size - pos);
  } finally {
    await fh.close();
  }
  return hash.digest('hex');
}

export function sha256Text(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
