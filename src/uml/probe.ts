/**
 * Boot an image under the UML kernel with a probe script as init, on a
 * throw-away COW layer, and collect what the probe reports. The image itself
 * is never written. The probe reaches the guest as a second, read-only disk
 * (`ubd1r=`), which /bin/sh runs as a script: `init=/bin/sh -- /dev/ubdb`.
 *
 * Probe lines of the form `UMLPROBE key=value` are returned as a map.
 */
import { RUN_ID } from '../host/run-id.js';
import type { TreeJournal } from '../host/safe-write.js';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { dir } from 'tmp-promise';
import { exec } from '../host/exec.js';

export interface ProbeOptions {
  image: string;
  /** Shell script run as init (no shebang needed). It should end by powering off. */
  script: string;
  mem?: string;
  timeoutMs?: number;
  linux?: string;
  /** Keep the COW layer at this path (default: a throw-away one). */
  cow?: string;
  /** Boot the image itself, without a COW layer (it will be written). */
  noCow?: boolean;
  /** More read-only disks, ubd2 onwards (the probe is ubd1). */
  extraDisks?: string[];
  /** Where to record the temporary tree while it exists (the runner's journal), so cleanup finds it after a SIGKILL. */
  journal?: TreeJournal;
}

export interface ProbeResult {
  values: Record<string, string>;
  output: string;
  seconds: number;
}

const POWEROFF = '\nsync\n[ -e /proc/self ] || mount -t proc proc /proc\necho o > /proc/sysrq-trigger\nsleep 30\n';

/** Pad with newlines to whole sectors: the ubd driver ignores a partial last sector. */
export function probeDisk(script: string): string {
  const text = `${script}${POWEROFF}`;
  return text + '\n'.repeat((512 - (text.length % 512)) % 512);
}

export async function bootProbe(o: ProbeOptions): Promise<ProbeResult> {
  const tmp = await dir({ prefix: 'umlbuild-probe-', unsafeCleanup: true });
  const journaled = o.journal?.add({ kind: 'tree', path: tmp.path });
  try {
    const probe = join(tmp.path, 'probe.sh');
    await writeFile(probe, probeDisk(o.script));
    const umid = `umlbuild-probe-${RUN_ID}-${Date.now() % 100000}`;
    const t0 = Date.now();
    const r = await exec(
      o.linux ?? 'linux',
      [
        `mem=${o.mem ?? '256M'}`,
        `umid=${umid}`,
        `uml_dir=${tmp.path}`,
        o.noCow ? `ubd0=${o.image}` : `ubd0=${o.cow ?? join(tmp.path, 'root.cow')},${o.image}`,
        `ubd1r=${probe}`,
        ...(o.extraDisks ?? []).map((d, i) => `ubd${i + 2}r=${d}`),
        'root=/dev/ubda',
        'rw',
        'con=null',
        'con0=null,fd:1',
        'init=/bin/sh',
        '--',
        '/dev/ubdb',
      ],
      { timeoutMs: o.timeoutMs ?? 60000, reject: false },
    );
    const values: Record<string, string> = {};
    for (const m of r.stdout.matchAll(/^UMLPROBE (\w+)=(.*)$/gm)) values[m[1]!] = m[2]!.trim();
    return { values, output: `${r.stdout}\n${r.stderr}`, seconds: (Date.now() - t0) / 1000 };
  } finally {
    await tmp.cleanup();
    if (journaled !== undefined) o.journal!.forget(journaled);
  }
}
