/**
 * One UML machine, started and left running: booted from a built image on a
 * throw-away COW layer of its own, inside a given network namespace (or the
 * caller's), with the vector networks it is given, its console on the
 * process's stdin/stdout (con1=fd:0,fd:1) for the caller to log in and type
 * commands. `umlbuild test` boots, checks and stops in one call
 * (boot-test.ts); this is the long-lived form several machines (a lab, or a
 * segment spanning two hosts) are built from.
 *
 * As `umlbuild test` does, UML runs as the unprivileged guest user when this
 * process is root (guest.ts), with no capability except those its transports
 * need (`privilegeNeeds`: CAP_NET_RAW for raw, hybrid, gre and raw-IP
 * l2tpv3, none for l2tpv3 over UDP) and hostfs confined; the image and the
 * variant's layer reach it as inherited descriptors. Every resource (the
 * private directory holding the COW file and uml_dir, the UML process) is on
 * the machine's teardown stack, journaled when a journal is given, and
 * released by `stop()`: a clean halt through the management console, then a
 * kill after a timeout.
 */
import { join } from 'node:path';
import { UserError } from '../errors.js';
import { exec, spawn, type Spawned } from '../host/exec.js';
import type { Journal } from '../host/journal.js';
import { processIdentity } from '../host/process-id.js';
import { Teardown } from '../host/teardown.js';
import { launchArgs } from '../launch/line.js';
import { NO_HOSTFS } from '../launch/schema.js';
import { networkSchema, privilegeNeeds, type Network } from '../launch/transports.js';
import { UmlConsole } from './console.js';
import { GuestFiles, giveToGuest, guestTempDir } from './guest-files.js';
import { asGuest, guestUser, type GuestCap, type RunAs } from './guest.js';
import { stopUml } from './mconsole.js';
import type { BuiltImage } from './target.js';
import { checkKernelSha, sha256Open } from './kernel-file.js';

export interface MachineOptions {
  /** The built image (findBuiltImage): its file is the read-only base of the machine's COW layer; a COW variant's own layer is copied first. */
  image: Pick<BuiltImage, 'image' | 'cow' | 'hostfsRoot' | 'launch'> & Partial<Pick<BuiltImage, 'kernel' | 'manifestFile'>>;
  /** UML's umid: names the mconsole socket and the journaled process. Unique on the host. */
  umid: string;
  /** The network devices (vecN:...) of this machine, replacing the image's launch.networks. */
  networks: readonly Network[];
  /** A network namespace (`ip netns` name) that exists: UML, and the mconsole client, run inside it. */
  netns?: string;
  /** UML's mem= (default: the image's launch.mem). */
  mem?: string;
  /** Run UML as this user (default: the guest user when root, else unchanged). */
  who?: RunAs;
  /** More kernel arguments after the image's own. */
  args?: string[];
  /** Record the machine's resources here, for `umlbuild cleanup` after a SIGKILL. */
  journal?: Journal;
  /** Commands run and kernel messages (stderr), line by line. */
  log?: (line: string) => void;
}

export interface Machine {
  umid: string;
  /** The console (con1): `login(user, password, seconds)`, then `run(command)`. */
  console: UmlConsole;
  /** The private directory (owned by the user UML runs as) with the COW layer and uml_dir. */
  dir: string;
  /** The machine's COW layer over the image (removed by stop()). */
  cow: string;
  /** The capabilities UML runs with (only what its transports need). */
  caps: GuestCap[];
  /** When UML was started (Date.now()). */
  startedAt: number;
  process: Spawned;
  /** Halt (sysrq s, u, then halt through mconsole; a kill after a timeout), then remove its directory. Idempotent. */
  stop(): Promise<void>;
}

/** The consoles: con1 on the pipes, the kernel's console (con0) on stderr. */
const CONSOLES = { con: 'null', con0: 'null,fd:2', con1: 'fd:0,fd:1' };

/** The capabilities UML needs for these networks (guest.ts grants only these). */
export function capsFor(networks: readonly Network[]): GuestCap[] {
  return [...new Set(networks.map((n) => privilegeNeeds(n).cap).filter((c): c is 'net_raw' => c === 'net_raw'))];
}

/** A umid: it names a directory (uml_dir/UMID) and this machine's private directory, so no path separator and no leading dot. */
const UMID = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$/;

/**
 * The networks checked again with the launch schema: an option value with a
 * comma or a space would add options to the vecN argument (`dst=b,bpfflash=1`).
 */
function checkedNetworks(umid: string, networks: readonly Network[]): Network[] {
  return networks.map((n, i) => {
    const r = networkSchema.safeParse(n);
    if (!r.success) throw new UserError(`machine ${umid}: network ${i + 1} (${String(n.device)}): ${r.error.issues.map((x) => `${x.path.join('.') || 'device'}: ${x.message}`).join('; ')}`);
    return r.data;
  });
}

export async function startMachine(o: MachineOptions): Promise<Machine> {
  if (o.image.hostfsRoot) throw new UserError(`machine ${o.umid}: a machine boots an image on a COW layer, not a hostfs root (${o.image.hostfsRoot})`);
  if (!UMID.test(o.umid)) throw new UserError(`machine umid ${JSON.stringify(o.umid)}: use 1-64 letters, digits, _ . - (not starting with . or -)`);
  const networks = checkedNetworks(o.umid, o.networks);
  const teardown = new Teardown(undefined, o.journal);
  try {
    const who = o.who ?? (await guestUser());
    const files = new GuestFiles(who);
    teardown.defer('close the files handed to UML', () => files.close());
    const tmp = await guestTempDir(`umlbuild-machine-${o.umid}-`, who);
    teardown.defer(`remove ${tmp.path}`, () => tmp.cleanup(), { resource: { kind: 'tree', path: tmp.path } });
    const backing = await files.add(o.image.image, 'image');
    // The image's own kernel (its sha256 the manifest's), else linux from PATH.
    let linuxName = 'linux';
    if (o.image.kernel) {
      linuxName = await files.add(o.image.kernel.file, "the image's kernel", false, false, true);
      checkKernelSha({ manifestFile: o.image.manifestFile ?? 'its manifest' }, o.image.kernel.file, await sha256Open(files.handle(linuxName)!.fd), o.image.kernel.sha256);
    }
    const cow = join(tmp.path, 'root.cow');
    if (o.image.cow) {
      await exec('cp', ['--sparse=always', '--preserve=timestamps', '--no-dereference', o.image.cow, cow]);
      await giveToGuest(cow, who);
    }
    // Extra disks are not part of a machine (yet): only the root disk, hostfs confined.
    const cfg = { ...o.image.launch, mem: o.mem ?? o.image.launch.mem, disks: [], hostfs: o.image.launch.hostfs ?? NO_HOSTFS };
    const args = launchArgs(cfg, { image: backing, cow, umid: o.umid, umlDir: tmp.path, consoles: CONSOLES, networks, extraArgs: o.args });
    const caps = capsFor(networks);
    const linux = asGuest([linuxName, ...args], who, caps);
    const argv = o.netns ? ['ip', 'netns', 'exec', o.netns, ...linux] : linux;
    const startedAt = Date.now();
    // cwd: its own directory (UML makes the COW's backing path absolute by changing directory and back).
    const uml = spawn(argv[0]!, argv.slice(1), { onCommand: (l) => o.log?.(`$ ${l}`), fds: files.fds, env: { TMPDIR: tmp.path }, cwd: tmp.path });
    uml.child.stderr?.on('data', (d: Buffer) => {
      for (const line of d.toString().split('\n')) if (line) o.log?.(`${o.umid}: ${line}`);
    });
    const id = processIdentity(uml.child.pid!);
    teardown.defer(`stop UML ${o.umid}`, () => stopUml(uml, { socket: join(tmp.path, o.umid, 'mconsole'), netns: o.netns }), id ? { resource: { kind: 'process', ...id, umid: o.umid } } : {});
    let stopping: Promise<void> | undefined;
    return {
      umid: o.umid,
      console: new UmlConsole(uml.child.stdout!, uml.child.stdin!),
      dir: tmp.path,
      cow,
      caps,
      startedAt,
      process: uml,
      stop: () =>
        (stopping ??= teardown.unwind(true).then((failures) => {
          if (failures.length) throw new Error(`stopping ${o.umid}: could not ${failures.map((f) => `${f.label} (${(f.error as Error).message})`).join('; ')}`);
        })),
    };
  } catch (e) {
    await teardown.unwind(true);
    throw e;
  }
}
