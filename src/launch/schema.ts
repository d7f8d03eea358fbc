/**
 * The `launch:` section of a recipe: the UML command line that the launch
 * script, `umlbuild boot` and `umlbuild test` use.
 *
 * ```yaml
 * launch:
 *   mem: 256M
 *   umid: web1                  # default: the recipe name
 *   root: /dev/ubda
 *   disks:                      # ubd1.. (ubd0 is the image)
 *     - file: data.img
 *       flags: [s]              # s sync, d no COW heuristics, c, t no TRIM
 *   disk_flags: []              # flags for ubd0
 *   consoles: { con: "null", con0: "null,fd:2", con1: "fd:0,fd:1" }
 *   networks:
 *     - { device: vec0, transport: tap, ifname: tap0, depth: 128 }   # gro=1 by default
 *   cpus: "0"                   # taskset pinning
 *   tmpdir: /dev/shm            # where UML keeps its memory file
 *   hostfs: /srv/share          # a host directory the guest may mount (not confined!)
 *   user: uml                   # run UML as this user when the script starts as root
 *   args: [quiet]
 *   fast_boot: true             # default: FAST_BOOT_ARGS below; false for btrfs RAID5/6 or md raid456
 * ```
 */
import { z } from 'zod';
import { channel, consoleKey, DEFAULT_CONSOLES } from './channels.js';
import { networkSchema } from './transports.js';
import { lineValue } from '../model/values.js';

/** Where lockdown points hostfs when no share is declared: a path that cannot exist (so "-o ../.." cannot climb out either). */
export const NO_HOSTFS = '/proc/umlbuild-no-hostfs';

/**
 * Kernel arguments that skip the packaged UML kernel's boot-time work (about
 * 1.4 s of its 1.5 s on a 2-core host; `launch.fast_boot: false` leaves them off):
 *
 * - `initcall_blacklist=raid6_select_algo`: the RAID6 parity benchmark (~0.85 s
 *   at HZ=100, built in for btrfs). Without it the RAID6 functions are unset:
 *   btrfs RAID5/6 and md raid456 in the guest need `fast_boot: false`;
 * - `pty.legacy_count=0`: no legacy BSD /dev/ptyXX (256 pairs registered one by
 *   one); Unix98 /dev/pts (ssh, script, tmux) is unaffected;
 * - `lpj=`: loops per jiffy given, not calibrated (~0.08 s); UML uses it only for udelay.
 *
 * An initcall the kernel does not have is ignored, so other kernels boot as before.
 */
export const FAST_BOOT_ARGS: readonly string[] = ['initcall_blacklist=raid6_select_algo', 'pty.legacy_count=0', 'lpj=31756288'];

/** ubd flags as a list ([s, t]) or a string ("st", "" for none). */
const flags = z
  .union([
    z.array(z.enum(['s', 'd', 'c', 't'])),
    z
      .string()
      .regex(/^[sdct]*$/, 'ubd flags are s, d, c and t')
      .transform((v) => v.split('') as ('s' | 'd' | 'c' | 't')[]),
  ])
  .default([]);

export const diskSchema = z
  .object({
    file: lineValue.min(1),
    /** A COW file over `file` (`ubdN=cow,file`). */
    cow: lineValue.min(1).optional(),
    flags,
    read_only: z.boolean().default(false),
  })
  .strict();

export const launchSchema = z
  .object({
    mem: z.union([z.string().regex(/^\d+[KMG]?$/i, 'use a number with K, M or G'), z.number().int().positive()]).default('256M'),
    umid: z
      .string()
      .regex(/^[\w.-]+$/, 'letters, digits, dot, dash, underscore')
      .optional(),
    root: lineValue.default('/dev/ubda'),
    disk_flags: flags,
    disks: z.array(diskSchema).max(15).default([]),
    consoles: z
      .record(z.string(), channel)
      .superRefine((c, ctx) => {
        for (const key of Object.keys(c)) {
          if (!consoleKey.safeParse(key).success) ctx.addIssue({ code: 'custom', path: [key], message: `"${key}": use con, conN, ssl or sslN` });
        }
      })
      .default(DEFAULT_CONSOLES),
    networks: z.array(networkSchema).default([]),
    cpus: z
      .string()
      .regex(/^\d+([,-]\d+)*$/, 'a CPU list such as 0 or 0-1')
      .optional(),
    tmpdir: lineValue.optional(),
    hostfs: lineValue.optional(),
    user: z
      .string()
      .regex(/^[a-z_][\w-]*$/)
      .optional(),
    args: z.array(lineValue).default([]),
    /** Add FAST_BOOT_ARGS to the kernel command line (before `args`). */
    fast_boot: z.boolean().default(true),
  })
  .strict();

export type LaunchConfig = z.output<typeof launchSchema>;
export type LaunchInput = z.input<typeof launchSchema>;
