/**
 * The lab runtime (issue 16): bring a Lab (model/lab.ts) up, run commands on
 * its machines, check it, and take it down — without a daemon.
 *
 * `up`: the images are resolved first (built images read through their
 * manifests; recipes built, or reused warm, through the library's build), then
 * one private network namespace with a bridge per segment and a tap per
 * interface (uml/lab-net.ts), then every machine booted at once (a machine
 * with `after` waits until those machines finished their startup) on its own
 * COW file over one shared base per image, as the unprivileged guest user,
 * hostfs confined, detached (its own session; output to a log in the state
 * directory), its login console on a pseudo-terminal (`con1=pts`). umlbuild
 * logs in as root once on each, renames the vector devices to the interface
 * names, configures addresses and routes, copies the machine's files and tree
 * over the console (base64; busybox has it), runs its startup commands and
 * leaves the shell logged in for `exec`. Until every machine is up, all of it
 * is journaled (`umlbuild cleanup` releases it after a SIGKILL) and an error or
 * an interrupt releases it; then the state directory (lab/state.ts) takes over
 * and the journal lets go: the lab outlives the command, until `down`.
 */
import { createHash } from 'node:crypto';
import { openSync, closeSync, constants } from 'node:fs';
import { lstat, readFile, readlink, rm } from 'node:fs/promises';
import { fileKind, openRegularFile } from '../host/pinned-file.js';
import { basename, dirname, isAbsolute, join, normalize } from 'node:path';
import { EXIT, UserError } from '../errors.js';
import { exec, spawnDetached } from '../host/exec.js';
import { Journal } from '../host/journal.js';
import { acquireLock } from '../host/lock-file.js';
import { killTree, type ProcessIdentity, processIdentity, runsWith, sameProcess } from '../host/process-id.js';
import { removeTree } from '../host/remove-tree.js';
import { RUN_ID } from '../host/run-id.js';
import { Teardown, type TeardownEntry } from '../host/teardown.js';
import { requireTools } from '../host/tools.js';
import { launchArgs, shQuote } from '../launch/line.js';
import { NO_HOSTFS } from '../launch/schema.js';
import type { Network } from '../launch/transports.js';
import type { Lab, LabMachine } from '../model/lab.js';
import { loadRecipe } from '../recipe/load.js';
import { build } from '../runner/build.js';
import type { UmlConsole } from '../uml/console.js';
import { asGuest, guestUser, openForGuest, type RunAs } from '../uml/guest.js';
import { giveToGuest, guestTempDir } from '../uml/guest-files.js';
import { addBridge, addTap, addUplink, bridgeName, createLabNetns, deleteNetns, labNetnsName, tapName, uplinkProblem } from '../uml/lab-net.js';
import { stopDetached } from '../uml/mconsole.js';
import { openPts, openPtsStreams, waitForPts } from '../uml/pts.js';
import { findBuiltImage, type BuiltImage } from '../uml/target.js';
import { openImageKernel } from '../uml/kernel-file.js';
import { checkLabName, commitStateDir, type LabState, type MachineState, makePartialStateDir, readState, stateDirOf, writeState } from './state.js';
import { defaultCacheDir } from '../cache/store.js';

export interface Login {
  user: string;
  password: string;
}

export interface UpOptions {
  log?: (line: string) => void;
  /** Segments may declare an uplink (a host bridge): the lab's machines then reach this host's network. */
  allowUplink?: boolean;
  signal?: AbortSignal;
  /** Who to log in as on machines booted from `img` (the API layer resolves it: environment, recipe, terminal). */
  login(img: BuiltImage, built?: { password?: string }): Promise<Login>;
  /** Seconds to wait for each machine's login prompt (default 120). */
  timeoutS?: number;
  /** Where recipes of `kind: recipe` machines are built (default: `labs/` in the bootstrap cache directory). */
  buildDir?: string;
  cacheDir?: string | false;
  /** How many machines boot at the same time (default: all of them). */
  parallel?: number;
}

interface Prepared {
  img: BuiltImage;
  login: Login;
}

const sourceKey = (m: LabMachine) => (m.source.kind === 'image' ? `image:${m.source.image}` : `recipe:${m.source.recipe}:${JSON.stringify(Object.entries(m.source.set).sort())}`);

/** What the model must hold for the runtime (a loader checks more, with file positions). */
export function checkLab(lab: Lab, allowUplink = false): void {
  checkLabName(lab.name, lab.file);
  const names = new Set<string>();
  const segments = new Set(lab.segments.map((s) => s.name));
  // A lab file from elsewhere may not wire its machines into the host's network by itself.
  for (const s of lab.segments)
    if (s.uplink !== undefined && !allowUplink) throw new UserError(`${s.where}: segment ${s.name}: uplink ${s.uplink} would connect the lab's machines to this host's network: allow it with --allow-uplink`, EXIT.invalid);
  for (const m of lab.machines) {
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(m.name)) throw new UserError(`${m.where}: machine name ${JSON.stringify(m.name)}: use letters, digits, _ . -`, EXIT.invalid);
    if (names.has(m.name)) throw new UserError(`${m.where}: a second machine named ${m.name}`, EXIT.invalid);
    names.add(m.name);
    for (const i of m.interfaces) {
      if (!segments.has(i.segment)) throw new UserError(`${m.where}: ${m.name} ${i.name}: no segment ${i.segment}`, EXIT.invalid);
      if (!/^[A-Za-z][A-Za-z0-9_.-]{0,14}$/.test(i.name)) throw new UserError(`${m.where}: ${m.name}: interface name ${JSON.stringify(i.name)}: 1-15 letters, digits, _ . -`, EXIT.invalid);
    }
  }
  for (const m of lab.machines) for (const a of m.after) if (!names.has(a)) throw new UserError(`${m.where}: ${m.name} is after ${a}, which is no machine of the lab`, EXIT.invalid);
  // `after` must be acyclic: every machine can start eventually.
  const done = new Set<string>();
  for (let changed = true; changed; ) {
    changed = false;
    for (const m of lab.machines) if (!done.has(m.name) && m.after.every((a) => done.has(a))) changed = done.add(m.name) !== undefined;
  }
  const stuck = lab.machines.filter((m) => !done.has(m.name)).map((m) => m.name);
  if (stuck.length) throw new UserError(`${lab.file}: the machines ${stuck.join(', ')} wait for each other (after/lab.dep has a cycle)`, EXIT.invalid);
  for (const c of lab.checks) {
    for (const n of [c.machine, ...(c.kind === 'tcp' ? [c.to] : [])]) if (!names.has(n)) throw new UserError(`${c.where}: check ${c.name}: no machine ${n}`, EXIT.invalid);
  }
}

/** A locally administered MAC address from the lab, machine and interface names (the same on every run). */
export function labMac(lab: string, machine: string, iface: string): string {
  const h = createHash('sha256').update(`${lab}\0${machine}\0${iface}`).digest();
  h[0] = (h[0]! & 0xfc) | 0x02;
  return [...h.subarray(0, 6)].map((b) => b.toString(16).padStart(2, '0')).join(':');
}

/** The image each distinct source means: built images read back, recipes built (warm when cached). */
async function prepareImages(lab: Lab, o: UpOptions): Promise<Map<string, Prepared>> {
  const out = new Map<string, Prepared>();
  for (const m of lab.machines) {
    const key = sourceKey(m);
    if (out.has(key)) continue;
    o.signal?.throwIfAborted();
    let img: BuiltImage;
    let built: { password?: string } | undefined;
    if (m.source.kind === 'image') img = await findBuiltImage(m.source.image);
    else {
      const plan = await loadRecipe(m.source.recipe, { set: m.source.set, env: process.env });
      const dir = join(o.buildDir ?? join(o.cacheDir === false ? join(dirname(lab.file), '.umlbuild') : (o.cacheDir ?? defaultCacheDir()), 'labs'), `${plan.name}-${createHash('sha256').update(key).digest('hex').slice(0, 12)}`);
      o.log?.(`building ${m.source.recipe} for ${m.name} into ${dir}`);
      const r = await build(plan, { outDir: dir, renderer: 'silent', signal: o.signal, cacheDir: o.cacheDir, warn: o.log });
      img = await findBuiltImage(r.outputs.image);
      built = { password: plan.test.password };
    }
    if (img.hostfsRoot) throw new UserError(`${m.where}: ${m.name}: ${img.image} is a hostfs root; a lab machine boots an image on its own COW layer`, EXIT.invalid);
    if (img.launch.disks.length) throw new UserError(`${m.where}: ${m.name}: ${img.image} has extra disks; lab machines with more than a root disk are not supported yet`, EXIT.invalid);
    out.set(key, { img, login: await o.login(img, built) });
  }
  return out;
}

const NOTHING = () => undefined;

/** Bring the lab up; resolves with its state once every machine is logged in and its startup done. */
export async function labUp(lab: Lab, o: UpOptions): Promise<LabState> {
  checkLab(lab, o.allowUplink);
  await requireTools(['ip', 'linux', 'uml_mconsole', 'tar'], 'a lab of UML machines');
  for (const s of lab.segments) {
    const problem = s.uplink === undefined ? undefined : await uplinkProblem(s.uplink);
    if (problem) throw new UserError(`${s.where}: segment ${s.name}: uplink ${s.uplink}: ${problem}`, EXIT.invalid);
  }
  const log = o.log ?? NOTHING;
  const images = await prepareImages(lab, o);
  const journal = new Journal();
  const teardown = new Teardown(undefined, journal);
  /** Released on failure; dropped (handed to the state directory) on success. */
  const held: TeardownEntry[] = [];
  const consoles = new Set<UmlConsole>();
  const onAbort = () => {
    for (const c of consoles) c.abort(o.signal!.reason as Error);
  };
  o.signal?.addEventListener('abort', onAbort);
  let ok = false;
  try {
    const { partial, final } = await makePartialStateDir(lab.name);
    held.push(teardown.defer(`remove ${partial}`, () => rm(partial, { recursive: true, force: true }), { resource: { kind: 'tree', path: partial } }));
    const who = await guestUser();
    const tmp = await guestTempDir(`umlbuild-lab-${lab.name}-`, who);
    const guestDir = tmp.path;
    held.push(teardown.defer(`remove ${guestDir}`, () => tmp.cleanup(), { resource: { kind: 'tree', path: guestDir } }));
    const { ns, entry } = await createLabNetns(labNetnsName(lab.name), teardown);
    held.push(entry);
    for (const [i, s] of lab.segments.entries()) {
      await addBridge(ns, bridgeName(i));
      if (s.uplink !== undefined) log(`segment ${s.name}: uplink to the host bridge ${s.uplink} (${await addUplink(ns, i, bridgeName(i), s.uplink)})`);
    }
    const segIndex = new Map(lab.segments.map((s, i) => [s.name, i]));
    for (const [mi, m] of lab.machines.entries()) for (const [j, iface] of m.interfaces.entries()) await addTap(ns, tapName(mi, j), bridgeName(segIndex.get(iface.segment)!), who);
    log(`network: namespace ${ns.name}, ${lab.segments.length} segment(s), ${lab.machines.reduce((n, m) => n + m.interfaces.length, 0)} interface(s)`);
    const state: LabState = { lab: lab.name, file: lab.file, netns: ns.name, guestDir, uid: who?.uid ?? process.getuid?.() ?? 0, started: Date.now(), machines: [], checks: lab.checks };

    const bootOne = async (mi: number, m: LabMachine): Promise<void> => {
      const { img, login } = images.get(sourceKey(m))!;
      const umid = `lab${mi}-${m.name.slice(0, 16)}-${RUN_ID}`;
      const cow = join(guestDir, `${m.name}.cow`);
      if (img.cow) {
        await exec('cp', ['--sparse=always', '--preserve=timestamps', '--no-dereference', img.cow, cow]);
        await giveToGuest(cow, who);
      }
      const logFile = join(partial, `${m.name}.log`);
      const logFd = openSync(logFile, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
      const base = await openForGuest(img.image, who, 'image');
      // The image's own kernel (sha256 checked) as fd 4; else linux from PATH.
      const kernel = await openImageKernel(img, who).catch(async (e) => {
        await base.close();
        throw e;
      });
      let pid: number;
      try {
        const networks = m.interfaces.map((iface, j) => ({ device: `vec${j}`, transport: 'tap', ifname: tapName(mi, j), mac: iface.mac ?? labMac(lab.name, m.name, iface.name) })) as Network[];
        const cfg = { ...img.launch, mem: m.memory ?? img.launch.mem, disks: [], hostfs: img.launch.hostfs ?? NO_HOSTFS };
        const args = launchArgs(cfg, { image: '/dev/fd/3', cow, umid, umlDir: guestDir, consoles: { con: 'null', con0: 'null,fd:1', con1: 'pts' }, networks });
        const argv = ns.wrap(asGuest([kernel ? '/dev/fd/4' : 'linux', ...args], who));
        pid = spawnDetached(argv[0]!, argv.slice(1), { fds: kernel ? [base.fd, kernel.fd] : [base.fd], logFd, cwd: guestDir, env: { TMPDIR: guestDir }, onCommand: (l) => log(`${m.name}: $ ${l}`) });
      } finally {
        closeSync(logFd);
        await base.close();
        await kernel?.close();
      }
      const id = processIdentity(pid);
      if (!id) throw new UserError(`${m.name}: UML exited at once; see ${logFile}`);
      const socket = join(guestDir, umid, 'mconsole');
      held.push(teardown.defer(`stop ${m.name}`, () => stopDetached(id, umid, { socket, netns: ns.name }), { resource: { kind: 'process', ...id, umid } }));
      const t0 = Date.now();
      const pts = await waitForPts(logFile, () => sameProcess(id), o.timeoutS ?? 120, o.signal);
      const holder = await holdConsole(pts, who, m.name, log);
      held.push(teardown.defer(`stop ${m.name}'s console holder`, () => stopHolder(holder)));
      const ms: MachineState = { name: m.name, ...id, umid, socket, pts, cow, log: join(final, `${m.name}.log`), image: img.cow ?? img.image, started: t0, holder };
      const session = await openPts(pts, who);
      consoles.add(session.con);
      try {
        session.con.send('');
        if ((await session.con.login(login.user, login.password, o.timeoutS ?? 120)).refused) throw new UserError(`${m.name}: login as ${login.user} was refused (wrong password?)`);
        log(`${m.name}: logged in after ${((Date.now() - t0) / 1000).toFixed(1)} s`);
        await configure(session.con, lab, m, partial);
        log(`${m.name}: up (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
      } catch (e) {
        if (!o.signal?.aborted && e instanceof UserError) {
          const tail = (await readFile(logFile, 'utf8').catch(() => '')).split('\n').slice(-10).join('\n');
          throw new UserError(`${m.name}: ${e.message}\nlast lines of its log:\n${tail}`);
        }
        throw e;
      } finally {
        consoles.delete(session.con);
        session.close();
      }
      state.machines.push(ms);
    };

    // Every machine at once (or `parallel` at a time), each as soon as the machines it is after are up.
    let free = o.parallel ?? lab.machines.length;
    const queue: (() => void)[] = [];
    const slot = async (): Promise<() => void> => {
      if (free > 0) free--;
      else await new Promise<void>((r) => queue.push(r));
      return () => {
        const next = queue.shift();
        if (next) next();
        else free++;
      };
    };
    const started = new Map<string, Promise<void>>();
    const start = (mi: number): Promise<void> => {
      const m = lab.machines[mi]!;
      let p = started.get(m.name);
      if (!p) {
        const deps = m.after.map((a) => start(lab.machines.findIndex((x) => x.name === a)));
        p = Promise.all(deps).then(async () => {
          o.signal?.throwIfAborted();
          const release = await slot();
          try {
            return await bootOne(mi, m);
          } finally {
            release();
          }
        });
        started.set(m.name, p);
      }
      return p;
    };
    const all = lab.machines.map((_, mi) => start(mi));
    const results = await Promise.allSettled(all);
    o.signal?.throwIfAborted();
    const failed = results.find((r) => r.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
    state.machines.sort((a, b) => lab.machines.findIndex((m) => m.name === a.name) - lab.machines.findIndex((m) => m.name === b.name));
    await writeState(partial, state);
    await commitStateDir(partial, final);
    // The lab outlives this process: the state directory holds it now, not the journal.
    ok = true;
    for (const e of held) e.drop();
    return { ...state };
  } finally {
    o.signal?.removeEventListener('abort', onAbort);
    const failures = await teardown.unwind(!ok);
    for (const f of failures) log(`teardown: could not ${f.label}: ${(f.error as Error).message}`);
    journal.close();
  }
}

/**
 * Keep the console's pts open between commands. When the last descriptor of a pts closes, UML sees its line
 * hang up and the guest's shell is logged out; a process that holds it open (as the guest user, `sleep` with the
 * pts as its controlling terminal) keeps the login for `exec`. It ends by itself when UML does: the pts hangs up
 * and its session leader gets SIGHUP.
 */
async function holdConsole(pts: string, who: RunAs | undefined, machine: string, log: (l: string) => void): Promise<ProcessIdentity> {
  const devNull = openSync('/dev/null', constants.O_WRONLY);
  let pid: number;
  try {
    // A session leader without a terminal that opens one (no O_NOCTTY) makes it its controlling terminal.
    const argv = asGuest(['sh', '-c', 'exec sleep infinity <"$0"', pts], who);
    pid = spawnDetached(argv[0]!, argv.slice(1), { logFd: devNull, onCommand: (l) => log(`${machine}: $ ${l}`) });
  } finally {
    closeSync(devNull);
  }
  for (let i = 0; i < 100; i++) {
    const fd0 = await readlink(`/proc/${pid}/fd/0`).catch(() => undefined);
    const id = processIdentity(pid);
    if (fd0 === pts && id) return id;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new UserError(`${machine}: could not hold its console ${pts} open`);
}

/** Stop a console holder (it ends by itself when its UML does; this is for when UML did not answer). */
function stopHolder(id: ProcessIdentity | undefined): void {
  if (id && sameProcess(id) && runsWith(id.pid, /^sleep$/, 'infinity')) killTree(id.pid);
}

/** Interfaces, addresses, routes, hostname, files, tree and startup commands, over the logged-in console. */
async function configure(con: UmlConsole, lab: Lab, m: LabMachine, scratch: string): Promise<void> {
  const must = async (cmd: string, seconds = 60) => {
    const r = await con.run(cmd, seconds);
    if (r.status !== 0) throw new UserError(`\`${cmd}\` failed (exit status ${r.status}): ${r.output.slice(0, 2000)}`);
    return r;
  };
  await must(`hostname ${shQuote(m.name)}`);
  // UML's vecN appear as vecN in the guest: give them the lab's names (through temporary names: a lab may name them vecN too).
  for (const [j] of m.interfaces.entries()) await must(`ip link set vec${j} name umlbtmp${j}`);
  for (const [j, iface] of m.interfaces.entries()) {
    await must(`ip link set umlbtmp${j} name ${shQuote(iface.name)} && ip link set ${shQuote(iface.name)} up`);
    if (iface.address) await must(`ip addr add ${shQuote(iface.address)} dev ${shQuote(iface.name)}`);
  }
  for (const r of m.routes) await must(`ip route add ${r.split(/\s+/).filter(Boolean).map(shQuote).join(' ')}`);
  for (const f of m.files) {
    // Read as the loader saw it: a regular file, never through a link or from a FIFO swapped in since.
    const file = await openRegularFile(f.host, `${m.where}: file`);
    const data = await file.fh.readFile().finally(() => file.close());
    const mode = f.mode ?? file.stat.mode & 0o7777;
    await must(`mkdir -p ${shQuote(dirname(f.guest))}`);
    await send(con, `cat > ${shQuote(f.guest)}`, data);
    await must(`chmod ${mode.toString(8)} ${shQuote(f.guest)}`);
  }
  if (m.tree) {
    const st = await lstat(m.tree).catch(() => undefined);
    if (!st?.isDirectory()) throw new UserError(`${m.where}: tree ${m.tree} is ${st ? fileKind(st) : 'gone'}, not a directory: refused`, EXIT.invalid);
    const tarFile = join(scratch, `${m.name}.tree.tar`);
    await exec('tar', ['-C', m.tree, '--owner=0', '--group=0', '--numeric-owner', '-cf', tarFile, '.']);
    try {
      await send(con, 'tar -xf - -C /', await readFile(tarFile));
    } finally {
      await rm(tarFile, { force: true });
    }
  }
  for (const cmd of m.startup) {
    const r = await con.run(cmd, 300);
    if (r.status !== 0) throw new UserError(`startup command \`${cmd}\` failed (exit status ${r.status}): ${r.output.slice(0, 2000)}`);
  }
  void lab;
}

/**
 * Run `command` with `data` on its stdin. The data crosses the console as base64 in lines short enough for
 * busybox's line editor (1024 bytes), each a command of its own: the next is typed once the last finished, so
 * nothing overruns the guest's terminal buffer (a here-document typed at once loses bytes).
 */
async function send(con: UmlConsole, command: string, data: Buffer): Promise<void> {
  const b64 = data.toString('base64');
  const tmp = '/tmp/.umlbuild-input';
  const step = async (cmd: string) => {
    const r = await con.run(cmd, 60);
    if (r.status !== 0) throw new UserError(`\`${cmd.slice(0, 200)}\` failed (exit status ${r.status}): ${r.output.slice(0, 2000)}`);
  };
  await step(`rm -f ${tmp} && : > ${tmp}`);
  for (let i = 0; i < b64.length; i += 800) await step(`printf %s '${b64.slice(i, i + 800)}' >> ${tmp}`);
  await step(`base64 -d ${tmp} | ${command}; s=$?; rm -f ${tmp}; [ $s -eq 0 ]`);
}

// ---- a lab that is up: state, consoles, down ----

export interface MachineStatus {
  name: string;
  pid: number;
  running: boolean;
  uptimeS: number;
  pts: string;
  umid: string;
}

/** The machine runs: the recorded pid is still that UML. */
function running(m: MachineState): boolean {
  return sameProcess(m) && runsWith(m.pid, /^linux(\.uml)?$/, `umid=${m.umid}`);
}

export async function labStatus(labName: string): Promise<{ state: LabState; machines: MachineStatus[] }> {
  const state = await readState(await stateDirOf(labName));
  return { state, machines: state.machines.map((m) => ({ name: m.name, pid: m.pid, running: running(m), uptimeS: (Date.now() - m.started) / 1000, pts: m.pts, umid: m.umid })) };
}

/** Open a running machine's console (locked: one user at a time), call `fn`, close it. */
export async function withMachine<T>(labName: string, machine: string, fn: (con: UmlConsole) => Promise<T>, signal?: AbortSignal): Promise<T> {
  const dir = await stateDirOf(labName);
  const state = await readState(dir);
  const m = state.machines.find((x) => x.name === machine);
  if (!m) throw new UserError(`the lab ${labName} has no machine ${machine} (it has ${state.machines.map((x) => x.name).join(', ')})`, EXIT.invalid);
  if (!running(m)) throw new UserError(`${machine} of the lab ${labName} is not running (pid ${m.pid}); see ${m.log}`);
  const lock = await acquireLock(join(dir, `${basename(m.name)}.lock`), { wait: true, signal });
  if (!('release' in lock)) throw new UserError(`${machine}'s console is in use`);
  try {
    const session = await openPts(m.pts, { name: String(state.uid), uid: state.uid, gid: 0 });
    const onAbort = () => session.con.abort(signal!.reason as Error);
    signal?.addEventListener('abort', onAbort);
    try {
      return await fn(session.con);
    } finally {
      signal?.removeEventListener('abort', onAbort);
      session.close();
    }
  } finally {
    await lock.release();
  }
}

/** Run a shell command on a machine as root; its output and exit status. */
export function labExec(labName: string, machine: string, command: string, o: { timeoutS?: number; signal?: AbortSignal } = {}): Promise<{ output: string; status: number }> {
  return withMachine(
    labName,
    machine,
    async (con) => {
      // A shell answers at once; a console that shows a login prompt instead (someone typed `exit` on it) never will.
      await con.run('true', 15).catch((e: Error) => {
        if (o.signal?.aborted) throw e;
        throw new UserError(`${machine}'s console does not answer as a logged-in shell (was \`exit\` typed on it?); \`umlbuild lab down\` and up again:\n${e.message}`);
      });
      return con.run(command, o.timeoutS ?? 3600);
    },
    o.signal,
  );
}

/** Stop every machine (mconsole: sysrq s, u, halt; a kill after a timeout), delete the namespace, remove the COW files and the state. */
export async function labDown(labName: string, log: (line: string) => void = NOTHING): Promise<{ stopped: string[] }> {
  checkLabName(labName, 'lab down');
  const dir = await stateDirOf(labName);
  const state = await readState(dir).catch(() => undefined);
  const stopped: string[] = [];
  if (state) {
    await Promise.all(
      state.machines.map(async (m) => {
        if (!running(m)) return;
        await stopDetached(m, m.umid, { socket: m.socket, netns: state.netns });
        stopHolder(m.holder);
        stopped.push(m.name);
        log(`stopped ${m.name} (pid ${m.pid})`);
      }),
    );
    if (/^umlbuild-lab-/.test(state.netns)) {
      await deleteNetns(state.netns);
      log(`deleted network namespace ${state.netns}`);
    }
    // Only a directory `lab up` made (guestTempDir: umlbuild-lab-*), never what a damaged state names.
    if (isAbsolute(state.guestDir) && normalize(state.guestDir) === state.guestDir && basename(state.guestDir).startsWith('umlbuild-lab-')) await removeTree(state.guestDir, log);
  }
  await rm(dir, { recursive: true, force: true });
  log(`removed ${dir}`);
  return { stopped };
}

/**
 * Attach a terminal to a machine's console (raw) until Ctrl-] is typed or the console closes. The console is
 * locked meanwhile: `exec` waits.
 */
export async function labConsole(labName: string, machine: string, term: { input: NodeJS.ReadStream; output: NodeJS.WriteStream }): Promise<void> {
  const dir = await stateDirOf(labName);
  const state = await readState(dir);
  const m = state.machines.find((x) => x.name === machine);
  if (!m) throw new UserError(`the lab ${labName} has no machine ${machine} (it has ${state.machines.map((x) => x.name).join(', ')})`, EXIT.invalid);
  if (!running(m)) throw new UserError(`${machine} of the lab ${labName} is not running (pid ${m.pid}); see ${m.log}`);
  const lock = await acquireLock(join(dir, `${m.name}.lock`), { wait: false });
  if (!('release' in lock)) throw new UserError(`${machine}'s console is in use (pid ${lock.heldBy})`);
  const pts = await openPtsStreams(m.pts, { name: String(state.uid), uid: state.uid, gid: 0 });
  try {
    term.input.setRawMode?.(true);
    await new Promise<void>((resolve) => {
      const onKey = (d: Buffer) => {
        const i = d.indexOf(0x1d);
        if (i >= 0) {
          if (i > 0) pts.output.write(d.subarray(0, i));
          return resolve();
        }
        pts.output.write(d);
      };
      const onOut = (d: Buffer) => term.output.write(d);
      term.input.on('data', onKey);
      pts.input.on('data', onOut);
      pts.input.once('close', () => resolve());
      term.input.resume();
      pts.output.write('\n');
    });
  } finally {
    term.input.setRawMode?.(false);
    term.input.pause();
    term.input.removeAllListeners('data');
    pts.close();
    await lock.release();
  }
}
