/**
 * A lab segment that spans two hosts (docs/labs-across-hosts.md), with two
 * network namespaces standing in for the two hosts: "hostA" and "hostB",
 * joined by a veth pair (192.168.77.1/30 and .2/30, the hosts' own network).
 * In each, one UML machine booted from recipes/busybox.yml's image (built
 * once, each machine on its own throw-away COW layer, UML as the
 * unprivileged guest user: src/uml/machine.ts) whose vec0 is UML's own
 * L2TPv3-over-UDP (or GRE) transport pointed at the other host's address.
 * The guests take 10.9.0.1/24 and 10.9.0.2/24 on that one segment and ping
 * across; the veth's counters show the traffic went over the "hosts'"
 * link. Nothing leaves the two namespaces; namespaces, UML processes and
 * COW files are removed in after hooks even on failure. Costs one busybox
 * build and four boots (~20 s).
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { exec } from '../../src/host/exec.js';
import { RUN_ID } from '../../src/host/run-id.js';
import type { Network } from '../../src/launch/transports.js';
import { networkArg } from '../../src/launch/transports.js';
import { type Machine, startMachine } from '../../src/uml/machine.js';
import { findBuiltImage, type BuiltImage } from '../../src/uml/target.js';
import { BIN, PROJECT, tempDir, type TempDir } from '../helpers.js';
import { requireRootWith } from './host-state.js';

const password = 'cross-host-pw';
/** The two "hosts": namespace names scoped to this run, the veth end in each, its address. */
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

describe('a segment across two hosts (two namespaces, UML vector transports)', function () {
  this.timeout(5 * 60 * 1000);
  let dir: TempDir;
  let img: BuiltImage;
  let machines: Machine[] = [];

  before(async function () {
    await requireRootWith(this, 'linux', 'busybox', 'mkfs.ext4', 'setpriv', 'ip', 'uml_mconsole');
    dir = await tempDir('umlbuild-labx-', '/var/tmp');
    await exec('cp', ['-r', join(PROJECT, 'recipes/busybox'), dir.path]);
    const out = join(dir.path, 'out');
    const r = await exec(BIN, [join(PROJECT, 'recipes/busybox.yml'), '--out', out, '--cache-dir', join(dir.path, 'cache'), '--renderer', 'silent', '--no-checksum', '--set', `root_password=${password}`, '--set', 'network=none'], {
      reject: false,
    });
    assert.equal(r.exitCode, 0, r.stdout + r.stderr);
    img = await findBuiltImage(out);
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
    const stopping = machines.map((m) => m.stop());
    machines = [];
    const failed = (await Promise.allSettled(stopping)).filter((s) => s.status === 'rejected');
    assert.deepEqual(failed, [], 'every machine stopped');
  });

  after(async () => {
    for (const h of HOSTS) await ip('netns', 'delete', h.ns).catch(() => undefined);
    await dir?.remove();
    // Leftovers, scoped to this test's names: its namespaces and UML processes.
    const list = (await ip('netns', 'list')).stdout;
    for (const h of HOSTS) assert.ok(!list.split('\n').some((l) => l.split(' ')[0] === h.ns), `netns ${h.ns} removed`);
    const ps = (await exec('ps', ['-eo', 'args'])).stdout;
    assert.doesNotMatch(ps, new RegExp(`umid=labx-[ab]-${tag}`), 'no UML process of this test left');
  });

  /**
   * Boot one machine per "host" with `net(i)` as its vec0, log in on both,
   * address the guests on 10.9.0.0/24 and ping from A to B. Returns the
   * ping's statistics and the time until both shells.
   */
  async function crossPing(net: (i: 0 | 1) => Network) {
    const t0 = Date.now();
    machines = await Promise.all(HOSTS.map((h, i) => startMachine({ image: img, umid: `${h.ns}-${net(0).transport}`, netns: h.ns, networks: [net(i as 0 | 1)], mem: '64M' })));
    await Promise.all(machines.map((m) => m.console.login('root', password, 60)));
    const bootS = (Date.now() - t0) / 1000;
    for (const [i, m] of machines.entries()) {
      const r = await m.console.run(`ip addr add ${HOSTS[i]!.guest}/24 dev vec0 && ip link set vec0 up && ip -o -4 addr show dev vec0`);
      assert.equal(r.status, 0, r.output);
      assert.match(r.output, new RegExp(`inet ${HOSTS[i]!.guest.replace(/\./g, '\\.')}/24`));
    }
    const before = await linkPackets(HOSTS[0].ns, HOSTS[0].veth);
    const ping = await machines[0]!.console.run(`ping -c 5 -W 3 ${HOSTS[1].guest}`, 60);
    const after = await linkPackets(HOSTS[0].ns, HOSTS[0].veth);
    assert.equal(ping.status, 0, `A pings B across the tunnel:\n${ping.output}`);
    const received = Number(/(\d+) packets received/.exec(ping.output)?.[1]);
    assert.ok(received > 0, ping.output);
    // Every echo and reply crossed the hosts' link, encapsulated.
    assert.ok(after.tx - before.tx >= received && after.rx - before.rx >= received, `veth counters before ${JSON.stringify(before)} after ${JSON.stringify(after)}`);
    const rtt = /= ([\d.]+)\/([\d.]+)\/([\d.]+) ms/.exec(ping.output);
    return { bootS, received, min: Number(rtt?.[1]), avg: Number(rtt?.[2]), output: ping.output };
  }

  it('l2tpv3 over UDP: two machines on two hosts ping each other (UML without any capability)', async () => {
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
    });
    assert.equal(networkArg(net(0)), 'vec0:transport=l2tpv3,udp=1,src=192.168.77.1,dst=192.168.77.2,srcport=1701,dstport=1701,rx_session=17,tx_session=34');
    const r = await crossPing(net);
    assert.deepEqual(
      machines.map((m) => m.caps),
      [[], []],
    );
    console.log(`      l2tpv3: both logged in after ${r.bootS.toFixed(1)} s; ping rtt min/avg ${r.min}/${r.avg} ms (${r.received} of 5)`);
    // The COW layers are the machines' own, and stop() removes them.
    const cows = machines.map((m) => m.cow);
    assert.ok(cows.every((c) => existsSync(c)) && new Set(cows).size === 2);
    await Promise.all(machines.splice(0).map((m) => m.stop()));
    assert.ok(
      cows.every((c) => !existsSync(c)),
      'COW files removed',
    );
  });

  it('gre: two machines on two hosts ping each other (UML with CAP_NET_RAW only)', async () => {
    const net = (i: 0 | 1): Network => ({ device: 'vec0', transport: 'gre', src: HOSTS[i].addr, dst: HOSTS[1 - i]!.addr, rx_key: 0x77, tx_key: 0x77 });
    assert.equal(networkArg(net(0)), 'vec0:transport=gre,src=192.168.77.1,dst=192.168.77.2,rx_key=119,tx_key=119');
    const r = await crossPing(net);
    assert.deepEqual(
      machines.map((m) => m.caps),
      [['net_raw'], ['net_raw']],
    );
    console.log(`      gre: both logged in after ${r.bootS.toFixed(1)} s; ping rtt min/avg ${r.min}/${r.avg} ms (${r.received} of 5)`);
  });
});
