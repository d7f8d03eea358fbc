/**
 * Hostile tar archives written byte by byte (ustar): members whose names,
 * link targets and order no well-behaved tar would produce, to test what
 * umlbuild does with a rootfs tarball or cache entry made by an attacker.
 */
import { writeFile } from 'node:fs/promises';

export interface Member {
  name: string;
  type?: 'file' | 'dir' | 'symlink' | 'hardlink' | 'char' | 'fifo';
  /** Link target (symlink, hardlink). */
  link?: string;
  content?: string;
  mode?: number;
  /** Device numbers (char). */
  dev?: [number, number];
}

const TYPE = { file: '0', hardlink: '1', symlink: '2', char: '3', dir: '5', fifo: '6' } as const;

function octal(n: number, width: number): string {
  return `${n.toString(8).padStart(width - 1, '0')}\0`;
}

function header(m: Member, size: number): Buffer {
  const h = Buffer.alloc(512);
  const put = (text: string, at: number, len: number) => {
    if (Buffer.byteLength(text) > len) throw new Error(`tar field too long: ${text}`);
    h.write(text, at, len, 'utf8');
  };
  const type = m.type ?? 'file';
  put(m.name, 0, 100);
  put(octal(m.mode ?? (type === 'dir' ? 0o755 : 0o644), 8), 100, 8);
  put(octal(0, 8), 108, 8);
  put(octal(0, 8), 116, 8);
  put(octal(size, 12), 124, 12);
  put(octal(1700000000, 12), 136, 12);
  put('        ', 148, 8);
  put(TYPE[type], 156, 1);
  put(m.link ?? '', 157, 100);
  put('ustar\0', 257, 6);
  put('00', 263, 2);
  put('root', 265, 32);
  put('root', 297, 32);
  put(octal(m.dev?.[0] ?? 0, 8), 329, 8);
  put(octal(m.dev?.[1] ?? 0, 8), 337, 8);
  let sum = 0;
  for (const b of h) sum += b;
  put(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8);
  return h;
}

/** Write an uncompressed tar archive with exactly these members, in this order. */
export async function writeTar(file: string, members: Member[]): Promise<void> {
  const parts: Buffer[] = [];
  for (const m of members) {
    const data = Buffer.from(m.type === undefined || m.type === 'file' ? (m.content ?? '') : '');
    parts.push(header(m, data.length), data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  parts.push(Buffer.alloc(1024));
  await writeFile(file, Buffer.concat(parts));
}
