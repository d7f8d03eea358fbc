/** Sizes such as `2G`, `512M`, `1.5T` or a plain byte count. Binary units. */
const UNITS: Record<string, number> = { '': 1, B: 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 };

export function parseSize(value: unknown): number {
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || value <= 0) throw new Error(`size must be a positive whole number of bytes, got ${value}`);
    return value;
  }
  if (typeof value !== 'string') throw new Error(`size must be a string like 2G or a number, got ${typeof value}`);
  const m = /^\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(?:I?B)?\s*$/i.exec(value);
  if (!m) throw new Error(`cannot parse size "${value}" (use a number with K, M, G or T, e.g. 2G)`);
  const bytes = Math.round(Number(m[1]) * UNITS[m[2]!.toUpperCase()]!);
  if (bytes <= 0) throw new Error(`size must be positive, got "${value}"`);
  if (bytes > 2 ** 50) throw new Error(`size "${value}" is absurdly large`);
  return bytes;
}

export function formatSize(bytes: number): string {
  for (const [u, n] of [
    ['T', 2 ** 40],
    ['G', 2 ** 30],
    ['M', 2 ** 20],
    ['K', 2 ** 10],
  ] as const) {
    if (bytes >= n && bytes % n === 0) return `${bytes / n}${u}`;
  }
  return `${bytes}`;
}
