/**
 * Boot an image with its network in a private namespace made here (never any
 * other network): a tap device, or a veth pair for the raw transport, with the
 * host side at HOST. Log in, ping the host, and send 4 MB to a TCP sink that
 * runs inside the same namespace.
 */
import { join } from 'node:path';
import { dir as tmpDir } from 'tmp-promise';
import { exec, spawn } from '../../src/host/exec.js';
import { launchArgs } from '../../src/launch/line.js';
import { launchSchema } from '../../src/launch/schema.js';
import { Teardown } from '../../src/host/teardown.js';
import { UmlConsole } from '../../src/uml/console.js';
import { stopUml } from '../../src/uml/mconsole.js';
import { createNetns } from '../../src/uml/netns.js';

const HOST = '192.0.2.1';
const PORT = 5555;

const SINK = `
const net = require('node:net');
const server = net.createServer((s) => {
  let n = 0;
  s.on('data', (d) => (n += d.length));
  s.on('end', () => { console.log('RECEIVED ' + n); server.close(); });
});
server.listen(${PORT}, '${HOST}', () => console.log('LISTENING'));
setTimeout(() => process.exit(2), 120000).unref();
`;

export async function networkRun(image: string, password: string, transport: 'tap' | 'raw'): Promise<{ ping: string; received: number; sentStatus: number }> {
  const teardown = new Teardown();
  try {
    const tmp = await tmpDir({ prefix: 'umlbuild-net-', unsafeCleanup: true });
    teardown.defer('remove tmp', () => tmp.cleanup());
    const ns = await createNetns(`umlbuild-net-${process.pid}-${transport}`, teardown);
    const ip = (...a: string[]) => exec('ip', ['-n', ns.name, ...a]);
    let ifname: string;
    if (transport === 'tap') {
      ifname = 'tap0';
      await ip('tuntap', 'add', 'dev', 'tap0', 'mode', 'tap');
      await ip('addr', 'add', `${HOST}/24`, 'dev', 'tap0');
      await ip('link', 'set', 'tap0', 'up');
    } else {
      ifname = 'veth-uml';
      await ip('link', 'add', 'veth-host', 'type', 'veth', 'peer', 'name', 'veth-uml');
      await ip('addr', 'add', `${HOST}/24`, 'dev', 'veth-host');
      await ip('link', 'set', 'veth-host', 'up');
      await ip('link', 'set', 'veth-uml', 'up');
    }
    const cfg = launchSchema.parse({ networks: [{ device: 'vec0', transport, ifname }] });
    const umid = `nettest-${process.pid}-${transport}`;
    const args = launchArgs(cfg, { image, cow: join(tmp.path, 'root.cow'), umid, umlDir: tmp.path });
    const uml = spawn('ip', ['netns', 'exec', ns.name, 'linux', ...args]);
    teardown.defer('stop UML', () => stopUml(uml, { socket: join(tmp.path, umid, 'mconsole'), netns: ns.name }));
    const con = new UmlConsole(uml.child.stdout!, uml.child.stdin!);
    await con.login('root', password, 120);
    const ping = await con.run(`ping -c 3 -i 0.2 -W 5 ${HOST}`, 60);

    const sink = spawn('ip', ['netns', 'exec', ns.name, process.execPath, '-e', SINK]);
    teardown.defer('stop sink', async () => {
      sink.child.kill('SIGKILL');
      await sink.exited;
    });
    const sinkOut = new UmlConsole(sink.child.stdout!, sink.child.stdin!);
    await sinkOut.expect(/LISTENING/, 30, 'the TCP sink');
    const sent = await con.run(`head -c ${4 * 1024 * 1024} /dev/zero > /dev/tcp/${HOST}/${PORT}`, 120);
    const m = await sinkOut.expect(/RECEIVED (\d+)/, 60, 'the TCP sink to finish');
    return { ping: ping.output, received: Number(m[1]), sentStatus: sent.status };
  } finally {
    await teardown.unwind(true);
  }
}
