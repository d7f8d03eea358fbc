/**
 * A manifest read back beside an image (`umlbuild test`, `boot`) is untrusted
 * input: anyone may have handed it over. model/manifest.ts checks its shape,
 * file names and names; this adds the launch line. Every field that reaches the UML
 * command line, a path or the launch script is checked here, and anything
 * that could name a host file, device or socket is refused:
 *
 * - files (image, COW, launch script, extra disks): plain names of files in
 *   the manifest's own directory (no `/`, no `..`);
 * - kernel arguments: only those on the allow-list below (guest-side settings);
 *   `ubdN=`, `hostfs=`, `con*=`, `ssl*=`, `umid=`, `uml_dir=`, `mem=`, `vecN=`,
 *   `ethN=`, `initrd=`, `iomem=`, `mconsole=` and the rest are umlbuild's to decide;
 * - memory: at most the host's;
 * - consoles: no host tty; networks: no BPF file or flash, no bess or legacy socket transports.
 */
import { totalmem } from 'node:os';
import { z } from 'zod';
import { RecipeError } from '../errors.js';
import { NO_HOSTFS } from '../launch/schema.js';
import { fileName, hostPath, manifestSchema as modelManifestSchema, parseManifest } from '../model/manifest.js';
import { launchSchema } from '../launch/schema.js';

const FLAG_ARGS = new Set(['quiet', 'rw', 'ro', 'single', 'emergency', 'rescue', 'debug', 'splash', 'nosplash', 'noresume', 'rootwait', 'nomodeset']);
const KEYED_ARGS: [RegExp, RegExp][] = [
  [/^loglevel$/, /^[0-7]$/],
  [/^init$/, /^\/[\w.+@/-]+$/],
  [/^(net\.ifnames|biosdevname|ipv6\.disable|printk\.time)$/, /^[01yYnN]$/],
  [/^(panic|rootdelay)$/, /^-?\d{1,6}$/],
  [/^rootfstype$/, /^ext[234]$/],
  [/^rootflags$/, /^[\w=.-]+(,[\w=.-]+)*$/],
  // launch/schema.ts FAST_BOOT_ARGS, also when a recipe writes them itself.
  [/^initcall_blacklist$/, /^\w+(,\w+)*$/],
  [/^pty\.legacy_count$/, /^\d{1,4}$/],
  [/^lpj$/, /^\d{1,12}$/],
  [/^console$/, /^tty\d{0,2}$/],
  [/^systemd\.[\w.-]+$/, /^[\w.:@,+-]*$/],
  [/^hostfs$/, new RegExp(`^${NO_HOSTFS.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}$`)],
];

/** Why a kernel argument from a manifest is refused, or undefined when it is allowed. */
export function kernelArgProblem(arg: string): string | undefined {
  if (FLAG_ARGS.has(arg)) return undefined;
  const eq = arg.indexOf('=');
  if (eq > 0) {
    const [key, value] = [arg.slice(0, eq), arg.slice(eq + 1)];
    const rule = KEYED_ARGS.find(([k]) => k.test(key));
    if (rule) return rule[1].test(value) ? undefined : `"${arg}": ${key}= does not take "${value}"`;
  }
  return `"${arg}" is not an allowed kernel argument (disks, hostfs, consoles, networks, umid, uml_dir and memory are umlbuild's to set)`;
}

const MEM_UNITS: Record<string, number> = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 };

function memBytes(mem: string | number): number {
  if (typeof mem === 'number') return mem;
  const m = /^(\d+)([KMG]?)$/i.exec(mem);
  return m ? Number(m[1]) * MEM_UNITS[m[2]!.toUpperCase()]! : NaN;
}

const manifestLaunch = launchSchema
  .extend({
    script: fileName,
    script_sha256: z
      .string()
      .regex(/^[0-9a-f]{64}$/)
      .optional(),
  })
  .superRefine((l, ctx) => {
    const bytes = memBytes(l.mem);
    if (!(bytes <= totalmem())) ctx.addIssue({ code: 'custom', path: ['mem'], message: `${l.mem} is more than this host's memory` });
    if (!/^\/dev\/(ubd[a-p]\d*|root)$/.test(l.root)) ctx.addIssue({ code: 'custom', path: ['root'], message: 'must be /dev/ubdX (a disk umlbuild attaches)' });
    l.disks.forEach((d, i) => {
      for (const k of ['file', 'cow'] as const) {
        const v = d[k];
        if (v !== undefined && !fileName.safeParse(v).success) ctx.addIssue({ code: 'custom', path: ['disks', i, k], message: `"${v}" must be a file name in the manifest's directory` });
      }
    });
    for (const [k, v] of Object.entries(l.consoles)) {
      if (/(^|,)(tty:|\/dev\/)/.test(v)) ctx.addIssue({ code: 'custom', path: ['consoles', k], message: `"${v}" names a host terminal` });
    }
    l.networks.forEach((n, i) => {
      const o = n as Record<string, unknown>;
      if (o.bpffile !== undefined || o.bpfflash === 1) ctx.addIssue({ code: 'custom', path: ['networks', i], message: 'bpffile/bpfflash load host files or BPF code' });
      if (['bess', 'daemon', 'socket', 'pcap', 'fd'].includes(String(o.transport))) ctx.addIssue({ code: 'custom', path: ['networks', i, 'transport'], message: `${String(o.transport)} names host sockets, interfaces or descriptors` });
    });
    for (const k of ['tmpdir', 'hostfs'] as const) {
      const v = l[k];
      if (v !== undefined && (!hostPath.safeParse(v).success || v === '/')) ctx.addIssue({ code: 'custom', path: [k], message: `"${v}" must be an absolute directory path without ".." (not /)` });
    }
    if (l.user === 'root') ctx.addIssue({ code: 'custom', path: ['user'], message: 'UML is not run as root' });
    l.args.forEach((a, i) => {
      const p = kernelArgProblem(a);
      if (p) ctx.addIssue({ code: 'custom', path: ['args', i], message: p });
    });
  });

/** model/manifest's reader schema with the launch line checked in full. */
export const manifestSchema = modelManifestSchema.extend({ launch: manifestLaunch });

export type CheckedManifest = z.output<typeof manifestSchema>;

/** Parse and check a manifest's text (model/manifest's reader); a clear error (exit 2) naming the file and key otherwise. */
export function checkManifest(file: string, text: string): CheckedManifest {
  const r = parseManifest(text, manifestSchema);
  if (r.ok) return r.data;
  throw new RecipeError(r.issues.map((i) => ({ file, ...i })));
}
