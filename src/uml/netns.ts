/**
 * A private network namespace for a UML instance, holding the host-side
 * interfaces its launch line binds to (a tap device, or a veth pair for the
 * raw transport). Nothing in it is connected to any other network.
 */
import { exec } from '../host/exec.js';
import { requireTools } from '../host/tools.js';
import type { Network } from '../launch/transports.js';
import type { Teardown } from '../host/teardown.js';
import type { GuestCap, RunAs } from './guest.js';

export interface Netns {
  name: string;
  /** Prefix for commands that must run inside it. */
  wrap(argv: string[]): string[];
}

const ip = (...args: string[]) => exec('ip', args);

export async function createNetns(name: string, teardown: Teardown): Promise<Netns> {
  await requireTools(['ip'], 'a private network namespace for UML (umlbuild test as root; --no-network does without)');
  await ip('netns', 'add', name);
  teardown.defer(`delete network namespace ${name}`, async () => void (await ip('netns', 'delete', name)), { resource: { kind: 'netns', name } });
  await ip('-n', name, 'link', 'set', 'lo', 'up');
  return { name, wrap: (argv) => ['ip', 'netns', 'exec', name, ...argv] };
}

/**
 * Create the host side of each network the guest expects; returns the ones
 * that can exist here, and the capabilities UML needs for them when it runs
 * as `who` (tap devices are made openable by that user instead).
 */
export async function provideInterfaces(ns: Netns, networks: readonly Network[], who?: RunAs): Promise<{ usable: Network[]; caps: GuestCap[] }> {
  const usable: Network[] = [];
  const caps = new Set<GuestCap>();
  for (const n of networks) {
    const ifname = (n as { ifname?: string }).ifname;
    if (!ifname) continue;
    if (n.transport === 'tap' || n.transport === 'hybrid' || n.transport === 'tuntap') {
      await ip('-n', ns.name, 'tuntap', 'add', 'dev', ifname, 'mode', 'tap', ...(who ? ['user', String(who.uid), 'group', String(who.gid)] : []));
      if (n.transport === 'hybrid') caps.add('net_raw');
    } else if (n.transport === 'raw') {
      await ip('-n', ns.name, 'link', 'add', ifname, 'type', 'veth', 'peer', 'name', `${ifname.slice(0, 12)}-h`);
      await ip('-n', ns.name, 'link', 'set', `${ifname.slice(0, 12)}-h`, 'up');
      caps.add('net_raw');
    } else continue;
    await ip('-n', ns.name, 'link', 'set', ifname, 'up');
    usable.push(n);
  }
  return { usable, caps: [...caps] };
}
