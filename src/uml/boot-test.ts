/**
 * `umlbuild test`: boot a built image under UML on a throw-away COW layer,
 * log in on the console, run checks, and shut down through the management
 * console. Nothing it did not start is touched; its COW file, uml_dir and
 * network namespace are removed. The guest is untrusted: UML runs as an
 * unprivileged user (as root: umlbuild-guest, or a hostfs tree's owner) with
 * hostfs confined, and the UML process is journalled for `umlbuild cleanup`.
 */
import { RUN_ID } from '../host/run-id.js';
import { Journal } from '../host/journal.js';
import { join } from 'node:path';
import { UserError } from '../errors.js';
import { exec, spawn } from '../host/exec.js';
import { isRoot } from '../host/tools.js';
import { launchArgs } from '../launch/line.js';
import type { Network } from '../launch/transports.js';
import { Teardown } from '../host/teardown.js';
import { UmlConsole } from './console.js';
import { stopUml } from './mconsole.js';
import { createNetns, provideInterfaces, type Netns } from './netns.js';
import { asGuest, guestUser, treeOwner, type GuestCap } from './guest.js';
import { GuestFiles, giveToGuest, guestTempDir } from './guest-files.js';
import { processIdentity } from '../host/process-id.js';
import { NO_HOSTFS } from '../launch/schema.js';
import type { BuiltImage } from './target.js';
import type { LaunchConfig } from '../launch/schema.js';
import { openRegularFile } from '../host/pinned-file.js';
import { checkKernelSha, configBeside, imageKernelConfig, kernelLine, kernelProblems, refuseUnmet, sha256Open, type KernelUsed } from './kernel-file.js';

export interface Check {
  name: string;
  /** Passed; false when it failed or was not run. */
  ok: boolean;
  /** Not run (no network here, or the login before it failed): never counted as passed. */
  notRun?: boolean;
  detail: string;
}

/** The checks `bootTest` means to run, in order (login first). */
export function plannedChecks(img: Pick<BuiltImage, 'test'>, o: Pick<BootTestOptions, 'hostname' | 'expect'>): string[] {
  return ['login', ...((o.hostname ?? img.test.hostname) ? ['hostname'] : []), 'root', 'modules', ...(img.test.netdev ? ['netdev'] : []), ...[...Object.keys(img.test.expect), ...o.expect.map(([c]) => c)].map((c) => `expect ${c}`)];
}

/** "PASS: 4 of 4 checks passed, 1 not run": only checks that ran are counted as passed. */
export function checkSummary(checks: Check[]): { ran: number; passed: number; notRun: number; text: string } {
  const ran = checks.filter((c) => !c.notRun).length;
  const passed = checks.filter((c) => c.ok && !c.notRun).length;
  const notRun = checks.length - ran;
  return { ran, passed, notRun, text: `${passed} of ${ran} checks passed${notRun ? `, ${notRun} not run` : ''}` };
}

export interface BootTestOptions {
  user: string;
  password: string;
  hostname?: string;
  expect: [string, RegExp][];
  timeoutS: number;
  /** Run UML in a private network namespace with the interfaces it binds to (root only). */
  isolateNetwork: boolean;
  log?: (line: string) => void;
  /** Aborting stops waiting, shuts UML down and cleans up; bootTest then rethrows the reason. */
  signal?: AbortSignal;
  /** Boot with this UML kernel (an absolute path to a regular file) instead of the image's own or `linux` from PATH. */
  kernel?: string;
}

export interface BootTestResult {
  checks: Check[];
  loginPromptS?: number;
  shellS?: number;
  ok: boolean;
  /** The kernel that booted (or was to boot). */
  kernel?: KernelUsed;
}

/**
 * The kernel to run, opened for UML (never through a link; readable and
 * executable by the user UML runs as) and checked: the image's own against
 * the manifest's sha256, a known config against what the launch configuration
 * needs. Returns the name to exec (/dev/fd/N, or `linux` from PATH).
 */
export async function chooseKernel(
  img: BuiltImage,
  files: GuestFiles,
  launch: Pick<LaunchConfig, 'disks' | 'consoles' | 'networks' | 'hostfs'>,
  option: string | undefined,
  log?: (l: string) => void,
): Promise<{ exec: string; used: KernelUsed }> {
  if (option) {
    // A regular file, not a link (exit 2 otherwise); then opened for UML, readable and executable by its user.
    await (await openRegularFile(option, 'kernel')).close();
    const exec = await files.add(option, 'kernel', false, false, true);
    const config = await configBeside(option);
    return { exec, used: { path: option, origin: 'option', config: refuseUnmet(option, config, config ? kernelProblems(img, launch, config.text, true) : [], log) } };
  }
  if (img.kernel) {
    const k = img.kernel;
    const exec = await files.add(k.file, "the image's kernel", false, false, true);
    checkKernelSha(img, k.file, await sha256Open(files.handle(exec)!.fd), k.sha256);
    const config = await imageKernelConfig(img);
    return { exec, used: { path: k.file, release: k.release, origin: 'image', config: refuseUnmet(k.file, config, config ? kernelProblems(img, launch, config.text, true) : [], log) } };
  }
  return { exec: 'linux', used: { path: 'linux', origin: 'path', config: 'config unknown: not checked' } };
}

const TEST_CONSOLES = { con: 'null', con0: 'null,fd:2', con1: 'fd:0,fd:1' };

export async function bootTest(img: BuiltImage, o: BootTestOptions): Promise<BootTestResult> {
  const journal = new Journal();
  const teardown = new Teardown(undefined, journal);
  const checks: Check[] = [];
  const add = (name: string, ok: boolean, detail: string) => {
    checks.push({ name, ok, detail });
    o.log?.(`${ok ? 'ok  ' : 'FAIL'} ${name}: ${detail}`);
  };
  const skip = (name: string, why: string) => {
    checks.push({ name, ok: false, notRun: true, detail: why });
    o.log?.(`skip ${name}: not run (${why})`);
  };
  /** What is left of the plan after a failure: listed as not run, never dropped. */
  const skipRest = (why: string) => {
    for (const name of plannedChecks(img, o)) if (!checks.some((c) => c.name === name)) skip(name, why);
  };
  const result: BootTestResult = { checks, ok: false };
  try {
    // The guest is untrusted: UML runs as an unprivileged user (guest.ts), files reach it as descriptors.
    const who = img.hostfsRoot ? await treeOwner(img.hostfsRoot, img.manifestFile) : await guestUser();
    const files = new GuestFiles(who);
    teardown.defer('close the files handed to UML', () => files.close());
    // The kernel first: a swapped file or a config that lacks what the launch needs is refused before anything is made.
    const chosen = await chooseKernel(img, files, { ...img.launch, consoles: TEST_CONSOLES }, o.kernel, o.log);
    result.kernel = chosen.used;
    o.log?.(kernelLine(chosen.used));
    const tmp = await guestTempDir('umlbuild-test-', who);
    teardown.defer(`remove ${tmp.path}`, () => tmp.cleanup(), { resource: { kind: 'tree', path: tmp.path } });
    const umid = `${img.umid}-test-${RUN_ID}`;
    let netns: Netns | undefined;
    let networks: Network[] = [];
    let caps: GuestCap[] = [];
    if (o.isolateNetwork && isRoot() && img.launch.networks.length) {
      netns = await createNetns(`umlbuild-${RUN_ID}`, teardown);
      ({ usable: networks, caps } = await provideInterfaces(netns, img.launch.networks, who));
    }
    // Throw-away layers: a fresh COW over the image (and each disk), or a copy of a variant's own COW.
    const layer = async (file: string, own: string | undefined, name: string, what: string) => {
      const backing = await files.add(file, what);
      const cow = join(tmp.path, name);
      if (own) {
        await exec('cp', ['--sparse=always', '--preserve=timestamps', '--no-dereference', own, cow]);
        await giveToGuest(cow, who);
      }
      return { backing, cow };
    };
    // A hostfs root cannot have a COW layer: the guest writes into the tree itself, as its owner.
    const root = img.hostfsRoot ? { backing: await files.add(img.hostfsRoot, 'hostfs root', true), cow: undefined } : await layer(img.image, img.cow, 'root.cow', 'image');
    const disks = [];
    for (const [i, d] of img.launch.disks.entries()) {
      const l = await layer(img.diskFiles[i]!.file, img.diskFiles[i]!.cow, `disk${i + 1}.cow`, 'disk');
      disks.push({ ...d, file: l.backing, cow: l.cow });
    }
    // hostfs confined to a path that cannot exist unless a share is declared (no "-o ../.." out of it either).
    const cfg = { ...img.launch, disks, hostfs: img.hostfsRoot ? undefined : (img.launch.hostfs ?? NO_HOSTFS) };
    const args = launchArgs(cfg, { image: root.backing, cow: root.cow, hostfsRoot: img.hostfsRoot ? root.backing : undefined, umid, umlDir: tmp.path, consoles: TEST_CONSOLES, networks });
    const linux = asGuest([chosen.exec, ...args], who, caps);
    const argv = netns ? netns.wrap(linux) : linux;
    const t0 = Date.now();
    // cwd: the guest's own directory. UML makes a COW file's backing path absolute by changing directory and back; a cwd the guest user cannot enter (a 0700 directory) fails that, and the root device with it.
    const uml = spawn(argv[0]!, argv.slice(1), { onCommand: (l) => o.log?.(`$ ${l}`), fds: files.fds, env: { TMPDIR: tmp.path }, cwd: tmp.path });
    const kernel: string[] = [];
    uml.child.stderr?.on('data', (d: Buffer) => kernel.push(...d.toString().split('\n')) && kernel.splice(0, Math.max(0, kernel.length - 40)));
    // Journalled with its start time: `umlbuild cleanup` stops it after a SIGKILL of this process, and never a stranger with its pid.
    const id = processIdentity(uml.child.pid!);
    teardown.defer('stop UML', () => stopUml(uml, { socket: join(tmp.path, umid, 'mconsole'), netns: netns?.name }), id ? { resource: { kind: 'process', ...id, umid } } : {});
    const con = new UmlConsole(uml.child.stdout!, uml.child.stdin!);
    const onAbort = () => con.abort(o.signal!.reason as Error);
    o.signal?.addEventListener('abort', onAbort);
    teardown.defer('stop listening for interrupts', () => o.signal?.removeEventListener('abort', onAbort));
    try {
      con.onPrompt = () => (result.loginPromptS = (Date.now() - t0) / 1000);
      if ((await con.login(o.user, o.password, o.timeoutS)).refused) {
        add('login', false, `login as ${o.user} was refused (wrong password?): give the image's password with --login ${o.user}:PASSWORD or UMLBUILD_TEST_PASSWORD`);
        skipRest('the login failed');
        return result;
      }
      result.shellS = (Date.now() - t0) / 1000;
      add('login', true, `${o.user}: prompt after ${result.loginPromptS!.toFixed(1)} s, shell after ${result.shellS.toFixed(1)} s`);
      await runChecks(con, img, o, networks, add, skip);
    } catch (e) {
      if (!(e instanceof UserError) || o.signal?.aborted) throw e;
      add('boot', false, `${e.message}${kernel.length ? `\nlast kernel messages:\n${kernel.slice(-15).join('\n')}` : ''}`);
      skipRest(`the ${checks.some((c) => c.name === 'login' && c.ok) ? 'guest stopped answering' : 'boot failed'}`);
    }
  } finally {
    const failures = await teardown.unwind(true);
    for (const f of failures) o.log?.(`teardown: could not ${f.label}: ${(f.error as Error).message}`);
    journal.close();
  }
  result.ok = checks.some((c) => c.name === 'login' && c.ok) && !checks.some((c) => !c.ok && !c.notRun);
  return result;
}

export async function runChecks(con: UmlConsole, img: BuiltImage, o: BootTestOptions, networks: Network[], add: (n: string, ok: boolean, d: string) => void, skip: (n: string, why: string) => void) {
  const out = async (cmd: string) => (await con.run(cmd)).output;
  const expected = o.hostname ?? img.test.hostname;
  if (expected) {
    const h = await out('cat /proc/sys/kernel/hostname');
    add('hostname', h === expected, `${h} (expected ${expected})`);
  }
  // mountinfo: ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTS
  const rootDev = await out(`awk '$5 == "/" { split($0, a, " - "); split(a[2], b, " "); dev = $3; fs = b[1] } END { print dev, fs }' /proc/self/mountinfo`);
  if (img.test.root === 'hostfs') add('root', / hostfs$/.test(rootDev), `/ is ${rootDev} (expected hostfs)`);
  else {
    const ubda = await out('cat /sys/block/ubda/dev');
    add('root', rootDev.split(' ')[0] === ubda, `/ is on ${rootDev} (ubda is ${ubda})`);
  }
  const mods = await con.run('test -d /lib/modules/$(uname -r) && uname -r');
  add('modules', mods.status === 0, mods.status === 0 ? `/lib/modules/${mods.output}` : 'no /lib/modules/$(uname -r)');
  const netdev = img.test.netdev;
  if (netdev) {
    if (networks.some((n) => n.device === netdev)) {
      const r = await con.run(`test -e /sys/class/net/${netdev}`);
      add('netdev', r.status === 0, `${netdev} ${r.status === 0 ? 'exists' : 'is missing'}`);
    } else skip('netdev', `${netdev}: ${!o.isolateNetwork ? '--no-network' : !isRoot() ? 'providing its host interface needs root' : 'its transport cannot be provided here (only tap, raw, hybrid)'}`);
  }
  for (const [cmd, re] of [...Object.entries(img.test.expect).map(([c, r]) => [c, new RegExp(r, 'm')] as [string, RegExp]), ...o.expect]) {
    const r = await con.run(cmd, 60);
    const ok = re.test(r.output);
    add(`expect ${cmd}`, ok, ok ? `${JSON.stringify(r.output.slice(0, 200))} matches ${re}` : `output does not match ${re}:\n${r.output.slice(0, 4000)}`);
  }
}
