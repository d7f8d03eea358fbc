/**
 * A lab: several UML machines wired into networks (segments), booted, checked
 * and torn down together (issue 16). This is the resolved model that both
 * lab formats load into — umlbuild's own lab file (YAML, lab/load.ts) and a
 * Netkit/Kathará lab directory (lab.conf, lab/netkit.ts) — and that the
 * runtime (lab/run.ts) and the network plumbing (uml/lab-net.ts) consume.
 *
 * Paths are absolute (resolved against the lab file's directory). `where`
 * strings name the source for error messages: `FILE:LINE:COL key` for YAML,
 * `lab.conf:LINE` for Netkit.
 */

/** Where a machine's root disk comes from. */
export type LabSource =
  /** An image umlbuild built: IMAGE with IMAGE's manifest beside it (the base of the machine's COW layer). */
  | { kind: 'image'; image: string }
  /** A recipe (shipped name or path), built — or reused from the cache — before the lab starts. */
  | { kind: 'recipe'; recipe: string; set: Record<string, string> };

export interface LabInterface {
  /** The guest's device name: eth0, eth1, ... (UML's vecN shows up as ethN in the guest). */
  name: string;
  /** The segment (collision domain) it attaches to. */
  segment: string;
  /** IPv4 or IPv6 address with prefix length (10.0.1.2/24), configured at boot; absent: none. */
  address?: string;
  /** A fixed MAC address; absent: one derived from the lab, machine and interface names (stable across runs). */
  mac?: string;
}

export interface LabFile {
  /** Absolute path in the guest. */
  guest: string;
  /** The host file (or, for a Netkit machine directory, a tree) whose content is copied there. */
  host: string;
  /** Octal mode for the guest file (default: the host file's permission bits). */
  mode?: number;
}

export interface LabMachine {
  name: string;
  source: LabSource;
  /** UML's mem= value (e.g. 128M); absent: the image's launch default. */
  memory?: string;
  interfaces: LabInterface[];
  /** Static routes, each `DEST via GATEWAY` (DEST may be `default`), added after the addresses. */
  routes: string[];
  /** Files copied into the machine's COW layer before it boots. */
  files: LabFile[];
  /** A directory copied onto the machine's root (Netkit's per-machine directory) before it boots. */
  tree?: string;
  /** Shell commands run as root in the machine after it is up and its interfaces are configured, in order. */
  startup: string[];
  /** Machines that must be up (startup done) before this one boots (lab.dep). */
  after: string[];
  where: string;
}

export interface LabSegment {
  name: string;
  /**
   * A host interface to bridge the segment to. Absent (the default): the segment is an L2 bridge inside the
   * lab's private network namespace and reaches nothing outside it.
   */
  uplink?: string;
  where: string;
}

export type LabCheck =
  /** Run COMMAND on MACHINE as root; pass when its exit status is `status` (default 0) and its output matches `expect`. */
  | { kind: 'run'; name: string; machine: string; command: string; status: number; expect?: string; where: string }
  /** MACHINE pings ADDRESS (count packets 0.2 s apart, default 3); pass when any reply arrives. */
  | { kind: 'ping'; name: string; machine: string; address: string; count: number; where: string }
  /** MACHINE sends MBYTES MiB over TCP to TO (a machine) at ADDRESS:PORT; pass when all of it arrives. */
  | { kind: 'tcp'; name: string; machine: string; to: string; address: string; port: number; mbytes: number; where: string };

export interface Lab {
  name: string;
  description?: string;
  /** The lab file (YAML) or lab.conf. */
  file: string;
  /** Its directory: relative paths resolve here. */
  dir: string;
  format: 'umlbuild' | 'netkit';
  machines: LabMachine[];
  segments: LabSegment[];
  checks: LabCheck[];
}
