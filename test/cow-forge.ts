/**
 * Forge UML COW files (version 3) for tests, as an attacker would: any
 * backing path, any recorded mtime and size, chosen sectors. Written here
 * byte by byte, independent of src/uml/cow.ts, so a test of the parser or of
 * merge does not trust the code it tests.
 */
import { createHash } from 'node:crypto';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { basename } from 'node:path';

const HEADER_LEN = 32 + 4096;
const ALIGN = 4096;
const SECTOR = 512;
const roundUp = (n: number, a: number) => Math.ceil(n / a) * a;

export interface Forged {
  backingFile: string;
  mtime: number;
  size: number;
  /** Sector number -> its new content (padded to 512 bytes). */
  sectors?: Record<number, string>;
}

export function forgeCow(f: Forged): Buffer {
  const bitmapOffset = roundUp(HEADER_LEN, ALIGN);
  const bitmapLen = Math.ceil(f.size / SECTOR / 8);
  const dataOffset = roundUp(bitmapOffset + bitmapLen, ALIGN);
  const buf = Buffer.alloc(dataOffset + roundUp(f.size, SECTOR));
  buf.write('OOOM', 0, 'latin1');
  buf.writeUInt32BE(3, 4);
  buf.writeUInt32BE(f.mtime, 8);
  buf.writeBigUInt64BE(BigInt(f.size), 12);
  buf.writeUInt32BE(SECTOR, 20);
  buf.writeUInt32BE(ALIGN, 24);
  buf.writeUInt32BE(0, 28);
  buf.write(f.backingFile, 32, 'utf8');
  for (const [n, text] of Object.entries(f.sectors ?? {})) {
    const i = Number(n);
    const at = bitmapOffset + (i >> 3);
    buf[at] = (buf[at] ?? 0) | (1 << (i & 7));
    buf.write(text, dataOffset + i * SECTOR, 'utf8');
  }
  return buf;
}

/** A COW file at `cow` that UML would accept over `backing` as it is now (its size and mtime). */
export async function forgeCowOver(cow: string, backing: string, sectors: Record<number, string> = {}, mode = 0o644): Promise<void> {
  const st = await stat(backing);
  await writeFile(cow, forgeCow({ backingFile: backing, mtime: Math.floor(st.mtimeMs / 1000), size: st.size, sectors }), { mode });
}

/** A manifest beside `image`, as umlbuild writes one (image name, sha256, variants). */
export async function fakeManifest(image: string, manifest: string, variants: string[] = []): Promise<void> {
  const sha256 = createHash('sha256')
    .update(await readFile(image))
    .digest('hex');
  const data = { umlbuild: 'test', image: { file: basename(image), sha256 }, variants: variants.map((cow) => ({ name: cow.replace(/\.cow$/, ''), cow })) };
  await writeFile(manifest, `${JSON.stringify(data, null, 2)}\n`);
}
