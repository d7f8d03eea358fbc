/**
 * A tool's `--version` output, for cache keys. mmdebstrap is a Perl script:
 * asking it costs ~0.1 s of every warm build. With a `memo` directory (the
 * cache's `digests`) the answer is kept with the tool file's signature (path,
 * inode, size, mtime, ctime) and asked again only when the file changed.
 */
import { createHash } from 'node:crypto';
import { realpath, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { ExecOptions, ExecResult } from '../host/exec.js';
import { findTool } from '../host/tools.js';
import { ensureCacheDir, readRecord, writeRecord } from './records.js';

interface Memo {
  tool: string;
  signature: string;
  version: string;
}

type Exec = (cmd: string, args: readonly string[], opts?: ExecOptions) => Promise<ExecResult>;

export async function toolVersion(tool: string, exec: Exec, memo?: string): Promise<string> {
  const ask = async () => (await exec(tool, ['--version'], { onLine: () => undefined })).stdout.trim();
  const found = memo ? await findTool(tool) : undefined;
  if (!memo || !found) return ask();
  const path = await realpath(found);
  const st = await stat(path, { bigint: true });
  const signature = `${path}\0${st.ino}\0${st.size}\0${st.mtimeNs}\0${st.ctimeNs}`;
  const file = join(memo, `tool-${createHash('sha256').update(tool).digest('hex').slice(0, 32)}.json`);
  const kept = await readRecord<Memo>(file);
  if (kept && kept.tool === tool && kept.signature === signature && typeof kept.version === 'string') return kept.version;
  const version = await ask();
  await ensureCacheDir(memo);
  await writeRecord(file, { tool, signature, version } satisfies Memo);
  return version;
}
