/**
 * eatmydata's library (package eatmydata), preloaded directly into a tool that
 * writes a fresh image: its fsync calls become no-ops. libext2fs fsyncs an
 * image whenever it opens or closes one (unix_io), and a new image's data is
 * still in the page cache, so each fsync waits until hundreds of MB are on
 * the disk (~0.5 s for mkfs.ext4 -d of a bookworm tree, again for debugfs or
 * e2fsck on a fresh copy) for a file nobody asked to be durable (cp and the
 * final rename leave it to the kernel's writeback too). Without the package,
 * the tools run as they are, only slower. The wrapper script is not used: it
 * runs readlink twice per call.
 */
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { findTool } from './tools.js';

let library: Promise<string | undefined> | undefined;

async function eatmydataLibrary(): Promise<string | undefined> {
  if (!(await findTool('eatmydata'))) return undefined;
  const dirs = ['/usr/lib', ...(await readdir('/usr/lib').catch(() => [] as string[])).filter((d) => d.endsWith('-linux-gnu')).map((d) => join('/usr/lib', d))];
  return dirs.map((d) => join(d, 'libeatmydata.so.1')).find((f) => existsSync(f));
}

/** The environment that makes a tool's fsync calls no-ops: `{ LD_PRELOAD }`, or nothing without eatmydata. */
export async function noSyncEnv(): Promise<Record<string, string>> {
  library ??= eatmydataLibrary();
  const lib = await library;
  return lib ? { LD_PRELOAD: lib } : {};
}
