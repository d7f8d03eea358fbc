/**
 * A lab segment that spans two hosts (docs/labs-across-hosts.md), with two
 * network namespaces standing in for the two hosts: "hostA" and "hostB",
 * joined by a veth pair (192.168.77.1/30 and .2/30, the hosts' own network)
 * and connected to nothing else. In each, one UML machine whose vec0 is
 * UML's own L2TPv3-over-UDP or GRE transport pointed at the other host's
 * address, booted on a throw-away COW layer of its own as the unprivileged
 * guest user (src/uml/machine.ts). The guests are on one segment,
 * 10.9.0.0/24, and ping across; the veth's counters show the traffic went
 * over the "hosts'" link, and the hosts' IP counters that a frame of the
 * documented MTU is not fragmented.
 *
 * - l2tpv3: machines from recipes/busybox.yml's image, devices as written
 *   here, addresses given with busybox `ip`; UML runs without any capability.
 * - the document's recipe: site.yml built for each host as the document
 *   says; hostA's machine from its manifest's launch.networks, hostB's with
 *   `umlbuild boot` run in its namespace, the way a person runs it there.
 * - gre: as the first, over GRE with a key; UML with CAP_NET_RAW only.
 *
 * Namespaces, UML processes and COW files are removed in after hooks even on
 * failure. Costs two busybox builds (the second mostly from the cache) and
 * six boots (~35 s here).
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exec, spawn } from '../../src/host/exec.js';
import { killTree } from '../../src/host/process-id.js';
import { RUN_ID } from '../../src/host/run-id.js';
import type { Network } from '../../src/launch/transports.js';
import { networkArg } from '../../src/launch/transports.js';
import { UmlConsole } from '../../src/uml/console.js';
import { giveToGuest } from '../../src/uml/guest-files.js';
import { guestUser } from '../../src/uml/guest.js';
import { startMachine } from '../../src/uml/machine.js';
import { findBuiltImage, type BuiltImage } from '../../src/uml/target.js';
import { BIN, PROJECT, tempDir, type TempDir } from '../helpers.js';
import { requireRootWith } from './host-state.js';

const password = 'cross-host-pw';
/** The two "hosts": namespace names scoped to this run, the veth end in each, its address, the guest's. */
const tag = RUN_ID.replace(/-/g, '').slice(-8);
const HOSTS = [
  { ns: `labx-a-${tag}`, veth: 'hostlink0', addr: '192.168.77.1', guest: '10.9.0.1' },
  { ns: `labx-b-${tag}`, veth: 'hostlink0', addr: '192.168.77.2', guest: '10.9.0.2' },
] as const;

const ip = (...args: string[]) => exec('ip', args);

/** The veth end's transmit and receive packet counts in `ns`. */
async function linkPackets(ns: string, dev: string): Promise<{ rx: number; tx: number }> {
  const j = JSON.parse((await ip('-n', ns, '-s', '-j', 'link', 'show', 'dev', dev)).stdout)[0];
  return { rx: j.stats64.rx.packets, tx: j.stats64.tx.packets };
}

/** How many IP fragments the host `ns` has made (its /proc/net/snmp Ip: FragCreates). */
async function fragmentsMade(ns: string): Promise<number> {
  const lines = (await exec('ip', ['netns', 'exec', ns, 'cat', '/proc/net/snmp'])).stdout.split('\n').filter((l) => l.startsWith('Ip: '));
  const [names, values] = lines.map((l) => l.split(/\s+/).slice(1));
  return Number(values![names!.indexOf('FragCreates')]);
}

/** A running guest with a console: a Machine, or `umlbuild boot` driven over its stdin/stdout. */
interface Node {
  console: UmlConsole;
  stop(): Promise<void>;
}

describe('a segment across two hosts (two namespaces, UML vector transports)', function () {
  this.timeout(5 * 60 * 1000);
  let dir: TempDir;
  let img: BuiltImage;
  let nodes: Node[] = [];
  /** Directories the guest user may write (COW files for `umlbuild boot`): removed after. */
  const guestDirs: string[] = [];

  const build = async (recipe: string, out: string, ...set: string[]) => {
    const r = await exec(BIN, [recipe, '--out', out, '--cache-dir', join(dir.path, 'cache'), '--renderer', 'silent', '--no-checksum', '--set', `root_password=${password}`, ...set.flatMap((s) => ['--set', s])], { reject: false });
    assert.equal(r.exitCode, 0, r.stdout + r.stderr);
    return findBuiltImage(out);
  };

  before(async function () {
    await requireRootWith(this, 'linux', 'busybox', 'mkfs.ext4', 'setpriv', 'ip', 'uml_mconsole');
    dir = await tempDir('umlbuild-labx-', '/var/tmp');
    // `umlbuild boot` (as root) has the guest user open the image by path: let it through the directory, as a shared lab directory would.
    await chmod(dir.path, 0o755);
    // What busybox.yml names relative to the recipe that extends it, and the document's site.yml beside it.
    await exec('cp', ['-r', join(PROJECT, 'recipes/busybox'), join(PROJECT, 'recipes/busybox.yml'), dir.path]);
    img = await build(join(PROJECT, 'recipes/busybox.yml'), join(dir.path, 'out'), 'network=none');
    // Two "hosts" and the wire between them: nothing else is connected to either namespace.
    for (const h of HOSTS) {
      await ip('netns', 'add', h.ns);
      await ip('-n', h.ns, 'link', 'set', 'lo', 'up');
    }
    await ip('-n', HOSTS[0].ns, 'link', 'add', HOSTS[0].veth, 'type', 'veth', 'peer', 'name', HOSTS[1].veth, 'netns', HOSTS[1].ns);
    for (const h of HOSTS) {
      await ip('-n', h.ns, 'addr', 'add', `${h.addr}/30`, 'dev', h.veth);
      await ip('-n', h.ns, 'link', 'set', h.veth, 'up');
    }
  });

  afterEach(async () => {
    const stopping = nodes.map((m) => m.stop());
    nodes = [];
    const failed = (await Promise.allSettled(stopping)).filter((s) => s.status === 'rejected');
    assert.deepEqual(failed, [], 'every machine stopped');
  });

  after(async () => {
    for (const h of HOSTS) await ip('netns', 'delete', h.ns).catch(() => undefined);
    for (const d of guestDirs) await rm(d, { recursive: true, force: true });
    await dir?.remove();
    // Leftovers, scoped to this test's names: its namespaces, UML processes and COW files.
    const list = (await ip('netns', 'list')).stdout;
    for (const h of HOSTS) assert.ok(!list.split('\n').some((l) => l.split(' ')[0] === h.ns), `netns ${h.ns} removed`);
    const ps = (await exec('ps', ['-eo', 'args'])).stdout;
    assert.doesNotMatch(ps, new RegExp(`umid=labx-[ab]-${tag}`), 'no UML process of this test left');
    for (const d of guestDirs) assert.ok(!existsSync(d), `${d} removed`);
    // The machines' private directories (COW layer, uml_dir), wherever guestTempDir put them.
    const mine = (await Promise.all([tmpdir(), '/tmp'].map((d) => readdir(d)))).flat().filter((n) => HOSTS.some((h) => n.startsWith(`umlbuild-machine-${h.ns}-`)));
    assert.deepEqual(mine, [], 'no machine directory left');
  });

  /**
   * Log in on both nodes (started at t0), give the guests their addresses
   * unless the image did, ping from A to B with `size` bytes of data, and
   * return the ping's figures, the time until both shells, and the fragments
   * hostA made meanwhile.
   */
  async function crossPing(t0: number, o: { address: boolean; size?: number }) {
    await Promise.all(nodes.map((m) => m.console.login('root', password, 60)));
    const bootS = (Date.now() - t0) / 1000;
    for (const [i, m] of nodes.entries()) {
      const guest = HOSTS[i]!.guest;
      // An image with network=static configures vec0 at boot (ifup -a, in the background): wait for it.
      const cmd = o.address
        ? `ip addr add ${guest}/24 dev vec0 && ip link set vec0 up && ip -o -4 addr show dev vec0`
        : `for i in $(seq 50); do ip -o -4 addr show dev vec0 | grep -q ' ${guest}/' && break; sleep 0.1; done; ip -o -4 addr show dev vec0`;
      const r = await m.console.run(cmd);
      assert.equal(r.status, 0, r.output);
      assert.match(r.output, new RegExp(`inet ${guest.replace(/\./g, '\\.')}/24`));
    }
    const before = await linkPackets(HOSTS[0].ns, HOSTS[0].veth);
    const fragsBefore = await fragmentsMade(HOSTS[0].ns);
    const ping = await nodes[0]!.console.run(`ping -c 5 -i 0.2 -W 3 ${o.size ? `-s ${o.size} ` : ''}${HOSTS[1].guest}`, 60);
    const after = await linkPackets(HOSTS[0].ns, HOSTS[0].veth);
    assert.equal(ping.status, 0, `A pings B across the tunnel:\n${ping.output}`);
    const received = Number(/(\d+) packets received/.exec(ping.output)?.[1]);
    assert.ok(received > 0, ping.output);
    // Every echo and reply crossed the hosts' link, encapsulated.
    assert.ok(after.tx - before.tx >= received && after.rx - before.rx >= received, `veth counters before ${JSON.stringify(before)} after ${JSON.stringify(after)}`);
    const rtt = /= ([\d.]+)\/([\d.]+)\/([\d.]+) ms/.exec(ping.output);
    return { bootS, received, min: Number(rtt?.[1]), avg: Number(rtt?.[2]), fragments: (await fragmentsMade(HOSTS[0].ns)) - fragsBefore };
  }

  /** Both hosts' machines from `img` with `net(i)` as vec0, started together. */
  async function startBoth(net: (i: 0 | 1) => Network) {
    const started = await Promise.allSettled(HOSTS.map((h, i) => startMachine({ image: img, umid: `${h.ns}-${net(0).transport}`, netns: h.ns, networks: [net(i as 0 | 1)], mem: '64M' })));
    nodes = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
    for (const s of started) if (s.status === 'rejected') throw s.reason;
    return nodes as Awaited<ReturnType<typeof startMachine>>[];
  }

  it('l2tpv3 over UDP: the machines of two hosts ping each other (UML without any capability)', async () => {
    const net = (i: 0 | 1): Network => ({
      device: 'vec0',
      transport: 'l2tpv3',
      udp: 1,
      src: HOSTS[i].addr,
      dst: HOSTS[1 - i]!.addr,
      srcport: 1701,
      dstport: 1701,
      rx_session: i === 0 ? 0x11 : 0x22,
      tx_session: i === 0 ? 0x22 : 0x11,
      mtu: 1450,
    });
    assert.equal(networkArg(net(0)), 'vec0:transport=l2tpv3,udp=1,src=192.168.77.1,dst=192.168.77.2,srcport=1701,dstport=1701,rx_session=17,tx_session=34,mtu=1450');
    const t0 = Date.now();
    const machines = await startBoth(net);
    const r = await crossPing(t0, { address: true });
    assert.deepEqual(
      machines.map((m) => m.caps),
      [[], []],
    );
    // The UML processes themselves hold no capability at all.
    for (const m of machines) assert.match(await umlCaps(m.process.child.pid!), /^0+$/);
    console.log(`      l2tpv3: both logged in ${r.bootS.toFixed(1)} s after starting; ping rtt min/avg ${r.min}/${r.avg} ms (${r.received} of 5)`);
    // A frame of the documented MTU (1450: 1422 bytes of ping data) crosses unfragmented.
    const full = await machines[0]!.console.run(`ping -c 3 -i 0.2 -W 3 -s 1422 ${HOSTS[1].guest}`, 30);
    assert.equal(full.status, 0, full.output);
    // The COW layers are the machines' own, and stop() removes them.
    const cows = machines.map((m) => m.cow);
    assert.ok(cows.every((c) => existsSync(c)) && new Set(cows).size === 2);
    await Promise.all(nodes.splice(0).map((m) => m.stop()));
    assert.ok(
      cows.every((c) => !existsSync(c)),
      'COW files removed',
    );
  });

  it("the document's site.yml, built for each host: hostA's machine from its manifest, hostB's with `umlbuild boot`", async () => {
    const doc = await readFile(join(PROJECT, 'docs/labs-across-hosts.md'), 'utf8');
    const site = [...doc.matchAll(/^```yaml\n([\s\S]*?)^```$/gm)].map((m) => m[1]!).find((b) => b.includes('# site.yml'));
    assert.ok(site, 'the document has site.yml');
    const recipe = await dir.write('site.yml', site);
    const common = ['network=static', 'netmask=255.255.255.0'];
    const imgA = await build(recipe, join(dir.path, 'siteA'), 'local=192.168.77.1', 'remote=192.168.77.2', `address=${HOSTS[0].guest}`, ...common);
    await build(recipe, join(dir.path, 'siteB'), 'local=192.168.77.2', 'remote=192.168.77.1', 'rx_session=0x22', 'tx_session=0x11', `address=${HOSTS[1].guest}`, ...common);
    // hostB's launch script carries the document's command line for hostB.
    assert.match(await readFile(join(dir.path, 'siteB/site.sh'), 'utf8'), /^UML_NET=\$\{UML_NET:-vec0:transport=l2tpv3,udp=1,src=192\.168\.77\.2,dst=192\.168\.77\.1,srcport=1701,dstport=1701,rx_session=0x22,tx_session=0x11,mtu=1450\}$/m);
    const t0 = Date.now();
    const a = await startMachine({ image: imgA, umid: `${HOSTS[0].ns}-site`, netns: HOSTS[0].ns, networks: imgA.launch.networks });
    nodes.push(a);
    nodes.push(await bootCommand(HOSTS[1].ns, join(dir.path, 'siteB'), `${HOSTS[1].ns}-site`));
    const r = await crossPing(t0, { address: false, size: 1422 });
    assert.equal(r.fragments, 0, 'a frame of the MTU (1450) is not fragmented on the hosts’ link');
    console.log(`      site.yml (machine + umlbuild boot): both logged in ${r.bootS.toFixed(1)} s after starting; ping -s 1422 rtt min/avg ${r.min}/${r.avg} ms, ${r.fragments} fragments`);
  });

  it('gre: the machines of two hosts ping each other (UML with CAP_NET_RAW only)', async () => {
    const net = (i: 0 | 1): Network => ({ device: 'vec0', transport: 'gre', src: HOSTS[i].addr, dst: HOSTS[1 - i]!.addr, rx_key: 0x77, tx_key: 0x77, mtu: 1458 });
    assert.equal(networkArg(net(0)), 'vec0:transport=gre,src=192.168.77.1,dst=192.168.77.2,rx_key=119,tx_key=119,mtu=1458');
    const t0 = Date.now();
    const machines = await startBoth(net);
    const r = await crossPing(t0, { address: true, size: 1430 });
    assert.deepEqual(
      machines.map((m) => m.caps),
      [['net_raw'], ['net_raw']],
    );
    // CAP_NET_RAW (bit 13) and nothing else.
    for (const m of machines) assert.equal(BigInt(`0x${await umlCaps(m.process.child.pid!)}`), 1n << 13n);
    assert.equal(r.fragments, 0, 'a frame of the MTU (1458 with a key) is not fragmented on the hosts’ link');
    console.log(`      gre: both logged in ${r.bootS.toFixed(1)} s after starting; ping -s 1430 rtt min/avg ${r.min}/${r.avg} ms (${r.received} of 5)`);
  });

  /**
   * `umlbuild boot OUT --cow COW` run inside `ns` as a person on that host
   * would, its console on our pipes. Stopped with `poweroff` in the guest, a
   * halt through its management console if that does not do it, and a kill.
   */
  async function bootCommand(ns: string, out: string, umid: string): Promise<Node> {
    const who = await guestUser();
    const cowDir = await mkdtemp('/tmp/umlbuild-labx-cow-');
    guestDirs.push(cowDir);
    await giveToGuest(cowDir, who);
    const cow = join(cowDir, 'site.cow');
    const run = spawn('ip', ['netns', 'exec', ns, BIN, 'boot', out, '--cow', cow], { env: { UML_UMID: umid } });
    const console_ = new UmlConsole(run.child.stdout!, run.child.stdin!);
    run.child.stderr?.on('data', (d: Buffer) => process.env.LABX_DEBUG && process.stderr.write(d));
    let stopped: Promise<void> | undefined;
    return {
      console: console_,
      stop: () =>
        (stopped ??= (async () => {
          const done = () => run.child.exitCode !== null || run.child.signalCode !== null;
          if (!done()) console_.send('poweroff');
          const wait = (ms: number) => Promise.race([run.exited, new Promise((r) => setTimeout(r, ms))]);
          await wait(15000);
          if (!done() && who) {
            await exec('ip', ['netns', 'exec', ns, 'uml_mconsole', `/run/umlbuild-uml/${who.name}/${umid}/mconsole`, 'halt'], { reject: false, timeoutMs: 10000 });
            await wait(5000);
          }
          if (!done()) killTree(run.child.pid!);
          await run.exited;
          assert.ok(existsSync(cow), 'umlbuild boot wrote its COW layer where it was told');
        })()),
    };
  }
});

/** The effective capabilities (hex) of the `linux` process under `pid` (setpriv execs it in place; ip netns exec too). */
async function umlCaps(pid: number): Promise<string> {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  assert.match(readFileSync(`/proc/${pid}/cmdline`, 'utf8'), /^linux\0/);
  return /^CapEff:\s+([0-9a-f]+)$/m.exec(status)![1]!;
}
