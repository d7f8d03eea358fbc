/** The UML command line (as argv) from a launch configuration. */
import { consoleArgs } from './channels.js';
import { FAST_BOOT_ARGS, type LaunchConfig } from './schema.js';
import { networkArg } from './transports.js';

export interface LaunchTarget {
  image: string;
  /** Boot on a COW layer over the image: `ubd0=cow,image`. */
  cow?: string;
  /** Boot this directory as the root with hostfs instead of an image. */
  hostfsRoot?: string;
  umid: string;
  /** A private directory for the mconsole socket and pid file. */
  umlDir?: string;
  /** Replace the recipe's consoles or networks (e.g. for `umlbuild test`). */
  consoles?: Record<string, string>;
  networks?: LaunchConfig['networks'];
  extraArgs?: string[];
}

export function ubdArg(index: number, flags: readonly string[], file: string, cow?: string, readOnly = false): string {
  return `ubd${index}${readOnly ? 'r' : ''}${flags.join('')}=${cow ? `${cow},` : ''}${file}`;
}

export function launchArgs(cfg: LaunchConfig, t: LaunchTarget): string[] {
  return [
    `mem=${cfg.mem}`,
    `umid=${t.umid}`,
    ...(t.umlDir ? [`uml_dir=${t.umlDir}`] : []),
    ...(t.hostfsRoot ? ['root=/dev/root', 'rootfstype=hostfs', `hostfs=${t.hostfsRoot}`, 'rw'] : [ubdArg(0, cfg.disk_flags, t.image, t.cow)]),
    ...cfg.disks.map((d, i) => ubdArg(i + 1, d.flags, d.file, d.cow, d.read_only)),
    ...(t.hostfsRoot ? [] : [`root=${cfg.root}`]),
    ...consoleArgs(t.consoles ?? cfg.consoles),
    ...(t.networks ?? cfg.networks).map(networkArg),
    ...(cfg.hostfs ? [`hostfs=${cfg.hostfs}`] : []),
    ...kernelArgs(cfg, !!t.hostfsRoot),
    ...(t.extraArgs ?? []),
  ];
}

/**
 * The guest's own kernel arguments: the fast-boot ones (unless `fast_boot: false`), then the recipe's `args`.
 * A hostfs root takes no `rootflags=` (hostfs would read it as the host directory to mount): it is left out there.
 */
export function kernelArgs(cfg: Pick<LaunchConfig, 'args' | 'fast_boot'>, hostfsRoot = false): string[] {
  return [...(cfg.fast_boot === false ? [] : FAST_BOOT_ARGS), ...cfg.args.filter((a) => !(hostfsRoot && a.startsWith('rootflags=')))];
}

/** Quote for a POSIX shell. */
export function shQuote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}
