/**
 * ext2/3/4 details that mkfs does not do for us. `mkfs.ext4 -d` copies each
 * file's change time from the host tree, and no program can set a change
 * time on the host, so a reproducible image gets its inode times set with
 * debugfs afterwards, on the inodes in use.
 */

/** Inodes in use, from `dumpe2fs` output (the root directory and every inode from "First inode" on). */
export function usedInodes(dumpe2fs: string): number[] {
  const perGroup = Number(/^Inodes per group:\s+(\d+)/m.exec(dumpe2fs)?.[1]);
  const first = Number(/^First inode:\s+(\d+)/m.exec(dumpe2fs)?.[1] ?? 11);
  if (!perGroup) throw new Error('dumpe2fs printed no "Inodes per group"');
  const used: number[] = [];
  const groups = dumpe2fs.split(/^Group (\d+):/m).slice(1);
  for (let i = 0; i < groups.length; i += 2) {
    const g = Number(groups[i]);
    const free = /^\s+Free inodes:(.*)$/m.exec(groups[i + 1] ?? '')?.[1] ?? '';
    const isFree = new Set<number>();
    for (const part of free
      .split(',')
      .map((p) => p.trim())
      .filter(Boolean)) {
      const [a, b] = part.split('-').map(Number) as [number, number | undefined];
      for (let n = a; n <= (b ?? a); n++) isFree.add(n);
    }
    for (let n = g * perGroup + 1; n <= (g + 1) * perGroup; n++) if (!isFree.has(n) && (n === 2 || n >= first)) used.push(n);
  }
  return used;
}

/** debugfs commands that set access, change and creation times of `inodes` to `epoch`. */
export function inodeTimeCommands(inodes: number[], epoch: number): string {
  return inodes.map((n) => ['atime', 'ctime', 'crtime'].map((f) => `sif <${n}> ${f} ${epoch}\n`).join('')).join('');
}
