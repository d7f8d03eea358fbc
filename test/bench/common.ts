/** What the benchmarks share: timing, statistics, allocated bytes, the umlbuild of dist/. */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { exec } from '../../src/host/exec.js';
import { BIN } from '../helpers.js';

/** umlbuild as installed (dist/, compiled JavaScript); `npm run build` makes it. */
export const DIST = { UMLBUILD_DIST: '1' };

export function stats(xs: number[]): { min: number; median: number; max: number } {
  const s = [...xs].sort((a, b) => a - b);
  return { min: s[0]!, median: s[Math.floor(s.length / 2)]!, max: s[s.length - 1]! };
}

/** Seconds `fn` takes, wall clock, and what it returned. */
export async function timed<T>(fn: () => Promise<T>): Promise<{ seconds: number; value: T }> {
  const t0 = process.hrtime.bigint();
  const value = await fn();
  return { seconds: Number(process.hrtime.bigint() - t0) / 1e9, value };
}

/** Run umlbuild of dist/ with `args`; its stdout. */
export async function umlbuild(args: string[], env: Record<string, string> = {}): Promise<string> {
  const { stdout } = await exec(BIN, args, { env: { ...DIST, ...env } });
  return stdout;
}

/** Bytes a file takes on disk (st_blocks × 512, what `du -B1` says) and its apparent size. */
export async function allocation(file: string): Promise<{ allocated: number; apparent: number }> {
  const s = await stat(file);
  return { allocated: s.blocks * 512, apparent: s.size };
}

/** The files in `dir` whose name ends with `ext`, with their paths. */
export async function filesEnding(dir: string, ext: string): Promise<string[]> {
  return (await readdir(dir)).filter((f) => f.endsWith(ext)).map((f) => join(dir, f));
}

export const MiB = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
