/** Did-you-mean: the known name closest to a mistyped one (Levenshtein distance). */

/** Levenshtein distance (small strings: names of commands, keys, step kinds, variables). */
export function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length]!;
}

/** The known name closest to `name` (case-insensitive), if it is close enough to be a typo. */
export function closest(name: string, known: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const k of known) {
    const d = distance(name.toLowerCase(), k.toLowerCase());
    if (d < bestD) [best, bestD] = [k, d];
  }
  return best !== undefined && bestD <= Math.max(2, Math.floor(name.length / 3)) ? best : undefined;
}

/** `; did you mean "x"?` for a mistyped name, or nothing. */
export function didYouMean(name: string, known: Iterable<string>): string {
  const near = closest(name, known);
  return near !== undefined && near !== name ? `; did you mean "${near}"?` : '';
}
