/**
 * What a launch configuration needs of the UML kernel's config, and a check
 * of a kernel's `.config` against it: a hostfs root needs CONFIG_HOSTFS=y, a
 * ubd disk CONFIG_BLK_DEV_UBD=y, a vector transport CONFIG_UML_NET_VECTOR=y,
 * each console channel type its CONFIG_*_CHAN, the root filesystem its driver
 * built in (no initrd loads it as a module). Plain data in and out (launch
 * layer: imports nothing of ours but model/ and launch/).
 *
 * Used where the config is known: after a `kernel` step built one (the
 * runner, and the step itself when it is given a full config file), booting
 * an image whose manifest records its kernel's config, and `umlbuild
 * test/boot --kernel PATH` with a config beside PATH.
 */
import type { LaunchConfig } from './schema.js';
import { isLegacy, type Network } from './transports.js';

export interface KernelNeed {
  /** CONFIG_NAME that must be =y (or, with `anyOf`, one of them). */
  option: string;
  /** Other options any one of which also does (CONFIG_EXT2_FS or CONFIG_EXT4_USE_FOR_EXT2). */
  anyOf?: string[];
  /** Why: "vector transport tap". */
  why: string;
  /** The recipe key (or what) that needs it: `launch.networks[0].transport`. */
  where: string;
  /** Only worth a warning (things still boot without it). */
  optional?: boolean;
}

export interface KernelNeedsInput {
  launch: Pick<LaunchConfig, 'disks' | 'consoles' | 'networks' | 'hostfs'>;
  /** `hostfs`: the root is a host directory; `image`: ubd0 is the image. */
  rootfs: 'image' | 'hostfs';
  /** The image's filesystem (facts.fsType / the manifest's image.fs): ext2/3/4, squashfs. */
  fs?: string;
  /** Halting through the management console (`umlbuild test` does; without it, it kills UML after a timeout). */
  mconsole?: boolean;
}

const CHANNELS: [RegExp, string, string][] = [
  [/^null$/, 'CONFIG_NULL_CHAN', 'null'],
  [/^port:/, 'CONFIG_PORT_CHAN', 'port'],
  [/^(pty|pts)$/, 'CONFIG_PTY_CHAN', 'pty/pts'],
  [/^(tty:|\/dev\/)/, 'CONFIG_TTY_CHAN', 'tty'],
  [/^xterm$/, 'CONFIG_XTERM_CHAN', 'xterm'],
  // fd:N is always built in (arch/um/drivers/Makefile: fd.o is obj-y).
];

const LEGACY_NET: Record<string, string> = { tuntap: 'CONFIG_UML_NET_TUNTAP', daemon: 'CONFIG_UML_NET_DAEMON', pcap: 'CONFIG_UML_NET_PCAP' };

/** The kernel options a launch configuration needs, each with why and the key that needs it. */
export function kernelNeeds(i: KernelNeedsInput): KernelNeed[] {
  const needs: KernelNeed[] = [];
  const add = (n: KernelNeed) => {
    if (!needs.some((x) => x.option === n.option && x.where === n.where)) needs.push(n);
  };
  if (i.rootfs === 'hostfs') add({ option: 'CONFIG_HOSTFS', why: 'the root is a host directory (rootfs: hostfs)', where: 'rootfs' });
  else add({ option: 'CONFIG_BLK_DEV_UBD', why: 'the root is the image on ubd0', where: 'launch.root' });
  for (const [n, d] of i.launch.disks.entries()) add({ option: 'CONFIG_BLK_DEV_UBD', why: `extra disk ubd${n + 1}${d.cow ? ' with a COW file' : ''}`, where: `launch.disks[${n}]` });
  if (i.launch.hostfs) add({ option: 'CONFIG_HOSTFS', why: `a hostfs share (${i.launch.hostfs})`, where: 'launch.hostfs' });
  if (i.rootfs === 'image' && i.fs) {
    const fs = i.fs;
    const where = `the image's filesystem (${fs})`;
    if (fs === 'ext2') add({ option: 'CONFIG_EXT2_FS', anyOf: ['CONFIG_EXT4_USE_FOR_EXT2'], why: 'the root filesystem is ext2 (built in: no initrd loads a module)', where });
    else if (fs === 'ext3' || fs === 'ext4') add({ option: 'CONFIG_EXT4_FS', why: `the root filesystem is ${fs} (built in: no initrd loads a module)`, where });
    else if (fs === 'squashfs') add({ option: 'CONFIG_SQUASHFS', why: 'the root filesystem is squashfs (built in: no initrd loads a module)', where });
  }
  for (const [key, spec] of Object.entries(i.launch.consoles)) {
    if (key.startsWith('ssl')) add({ option: 'CONFIG_SSL', why: `serial line ${key}`, where: `launch.consoles.${key}` });
    for (const part of spec.split(',')) {
      const c = CHANNELS.find(([re]) => re.test(part));
      if (c) add({ option: c[1], why: `console channel ${c[2]} (${key}=${spec})`, where: `launch.consoles.${key}` });
    }
  }
  i.launch.networks.forEach((n: Network, k) => {
    const where = `launch.networks[${k}].transport`;
    if (isLegacy(n)) {
      add({ option: 'CONFIG_UML_NET', why: `legacy network device ${n.device}`, where });
      const o = LEGACY_NET[n.transport];
      if (o) add({ option: o, why: `legacy transport ${n.transport} (${n.device})`, where });
    } else add({ option: 'CONFIG_UML_NET_VECTOR', why: `vector transport ${n.transport} (${n.device})`, where });
  });
  if (i.mconsole) add({ option: 'CONFIG_MCONSOLE', why: 'umlbuild halts the guest through the management console (without it: killed after a timeout)', where: 'umlbuild test', optional: true });
  return needs;
}

/** A kernel .config as CONFIG_NAME -> value (`y`, `m`, a string, a number); `# CONFIG_X is not set` is absent. */
export function parseKernelConfig(text: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of text.split('\n')) {
    const r = /^(CONFIG_\w+)=(.*)$/.exec(line.trim());
    if (r) m.set(r[1]!, r[2]!);
  }
  return m;
}

export interface KernelConfigProblem extends KernelNeed {
  /** What the config has for `option` (undefined: not set). */
  got?: string;
  /** One line: "CONFIG_UML_NET_VECTOR is not set, but launch.networks[0].transport needs it =y: vector transport tap (vec0)". */
  message: string;
}

/** The needs `configText` does not meet (an option =m where =y is needed counts as not met). */
export function checkKernelConfig(configText: string, needs: readonly KernelNeed[]): KernelConfigProblem[] {
  const config = parseKernelConfig(configText);
  const problems: KernelConfigProblem[] = [];
  for (const n of needs) {
    const options = [n.option, ...(n.anyOf ?? [])];
    if (options.some((o) => config.get(o) === 'y')) continue;
    const got = config.get(n.option);
    const state = got === undefined ? 'is not set' : `is ${got}${got === 'm' ? ' (a module: nothing loads it before the root is mounted)' : ''}`;
    const want = options.map((o) => `${o}=y`).join(' or ');
    problems.push({ ...n, got, message: `${n.option} ${state}, but ${n.where} needs ${want}: ${n.why}` });
  }
  return problems;
}
