/**
 * Boot an image under the UML kernel with a probe script as init, on a
 * throw-away COW layer, and collect what the probe reports. The image itself
 * is never written. The probe reaches the guest as a second, read-only disk
 * (`ubd1r=`), which /bin/sh runs as a script: `init=/bin/sh -- /dev/ubdb`.
 *
 * Probe lines of the form `UMLPROBE key=value` are returned as a map.
 *
 * As root, UML runs as the unprivileged umlbuild-guest (guest.ts) with hostfs
 * confined; the image and disks reach it as inherited descriptors, its COW
 * layer lives in a directory of its own (a kept one is copied in and out,
 * naming the image by its real path), and the process is journalled.
 * `noCow` writes the image in place: its mode must let that user write it.
 */
import { RUN_ID } from '../host/run-id.js';
import { existsSync } from 'node:fs';
import { lstat, rename, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { exec } from '../host/exec.js';
import { processIdentity } from '../host/process-id.js';
import { FAST_BOOT_ARGS, NO_HOSTFS } from '../launch/schema.js';
import { Journal } from '../host/journal.js';
import { asGuest, guestUser } from './guest.js';
import { GuestFiles, giveToGuest, guestTempDir, recordCowBacking } from './guest-files.js';

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
  /** The kernel's fast-boot arguments (launch/schema.ts FAST_BOOT_ARGS); default true. */
  fastBoot?: boolean;
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
  // The guest is untrusted: as root, UML runs as umlbuild-guest (guest.ts) and gets its files as descriptors.
  const who = await guestUser();
  const journal = new Journal();
  const tmp = await guestTempDir('umlbuild-probe-', who);
  const tmpEntry = journal.add({ kind: 'tree', path: tmp.path });
  const files = new GuestFiles(who);
  let umlEntry: number | undefined;
  try {
    const probe = join(tmp.path, 'probe.sh');
    await writeFile(probe, probeDisk(o.script));
    const image = await files.add(o.image, 'image', false, o.noCow);
    // A kernel file of the output (the image's own): handed over opened, as the image is; `linux` from PATH otherwise.
    const linux = o.linux?.startsWith('/') ? await files.add(o.linux, 'kernel', false, false, true) : (o.linux ?? 'linux');
    const extra: string[] = [];
    for (const d of o.extraDisks ?? []) extra.push(await files.add(d, 'disk'));
    // Writes land in a COW in the guest's directory; a kept one is copied in and out.
    const cow = join(tmp.path, 'root.cow');
    if (o.cow && !o.noCow && (await lstat(o.cow).catch(() => undefined))) {
      await exec('cp', ['--sparse=always', '--preserve=timestamps', '--no-dereference', o.cow, cow]);
      await giveToGuest(cow, who);
    }
    const umid = `umlbuild-probe-${RUN_ID}-${Date.now() % 100000}`;
    const t0 = Date.now();
    const argv = asGuest(
      [
        linux,
        `mem=${o.mem ?? '256M'}`,
        `umid=${umid}`,
        `uml_dir=${tmp.path}`,
        o.noCow ? `ubd0=${image}` : `ubd0=${cow},${image}`,
        `ubd1r=${probe}`,
        ...extra.map((d, i) => `ubd${i + 2}r=${d}`),
        'root=/dev/ubda',
        'rw',
        'con=null',
        'con0=null,fd:1',
        `hostfs=${NO_HOSTFS}`,
        ...(o.fastBoot === false ? [] : FAST_BOOT_ARGS),
        'init=/bin/sh',
        '--',
        '/dev/ubdb',
      ],
      who,
    );
    const r = await exec(argv[0]!, argv.slice(1), {
      // The guest's own directory: UML changes directory and back to make the COW's backing path absolute (see boot-test.ts).
      cwd: tmp.path,
      timeoutMs: o.timeoutMs ?? 60000,
      reject: false,
      fds: files.fds,
      env: { TMPDIR: tmp.path },
      onSpawn: (pid) => {
        const id = processIdentity(pid);
        if (id) umlEntry = journal.add({ kind: 'process', ...id, umid });
      },
    });
    if (o.cow && !o.noCow && existsSync(cow)) {
      await recordCowBacking(cow, resolve(o.image));
      const partial = `${o.cow}.partial-${RUN_ID}`;
      await exec('cp', ['--sparse=always', '--preserve=timestamps', cow, partial]);
      await rename(partial, o.cow);
    }
    const values: Record<string, string> = {};
    for (const m of r.stdout.matchAll(/^UMLPROBE (\w+)=(.*)$/gm)) values[m[1]!] = m[2]!.trim();
    return { values, output: `${r.stdout}\n${r.stderr}`, seconds: (Date.now() - t0) / 1000 };
  } finally {
    if (umlEntry !== undefined) journal.forget(umlEntry);
    await files.close();
    await tmp.cleanup();
    journal.forget(tmpEntry);
    journal.close();
  }
}
