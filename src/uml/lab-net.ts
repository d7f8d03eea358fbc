/**
 * A lab's network (issue 16): one private network namespace per running lab,
 * one Linux bridge in it per segment (collision domain), and one tap device
 * per machine interface, owned by the user UML runs as and enslaved to its
 * segment's bridge. UML joins a tap with the vector transport
 * (`vecN:transport=tap,ifname=TAP`). Nothing in the namespace reaches the
 * host's own network, except a segment that declares an uplink (and only when
 * the caller allows it): a veth pair joins its bridge to a bridge of the host
 * (the network namespace umlbuild runs in). A physical interface is never
 * enslaved: that would take the host's own address off it.
 */
import { createHash } from 'node:crypto';
import { exec } from '../host/exec.js';
import { RUN_ID } from '../host/run-id.js';
import type { Teardown, TeardownEntry } from '../host/teardown.js';
import { requireTools } from '../host/tools.js';
import type { Netns } from './netns.js';
import type { RunAs } from './guest.js';

export type { Netns };

const ip = (...args: string[]) => exec('ip', args);

/**
 * The namespace's name: `umlbuild-lab-<lab>-<pid>-<hex>` (the lab's name cut to fit, then this run's id), which
 * `umlbuild cleanup` recognises as this run's own after a SIGKILL (host/journal-verify.ts ownNetns).
 */
export function labNetnsName(lab: string, runId = RUN_ID): string {
  return `umlbuild-lab-${lab.replace(/[^A-Za-z0-9_.]/g, '_').slice(0, 24)}-${runId}`;
}

/**
 * Create the lab's namespace (journaled: `cleanup` deletes it after a SIGKILL; bridges and taps go with it).
 * The entry is returned so that a lab that came up can hand the namespace on to its state directory.
 */
export async function createLabNetns(name: string, teardown: Teardown): Promise<{ ns: Netns; entry: TeardownEntry }> {
  await requireTools(['ip'], 'a private network namespace for a lab');
  await ip('netns', 'add', name);
  const entry = teardown.defer(`delete network namespace ${name}`, () => deleteNetns(name), { resource: { kind: 'netns', name } });
  await ip('-n', name, 'link', 'set', 'lo', 'up');
  return { ns: labNetns(name), entry };
}

/** A namespace object for one that exists already (a lab brought up by another process). */
export function labNetns(name: string): Netns {
  return { name, wrap: (argv) => ['ip', 'netns', 'exec', name, ...argv] };
}

/** Host-side device names (at most 15 characters): the bridge of segment I, the tap of machine M's interface J. */
export const bridgeName = (i: number) => `lbr${i}`;
export const tapName = (m: number, j: number) => `lt${m}x${j}`;

export async function addBridge(ns: Netns, name: string): Promise<void> {
  await ip('-n', ns.name, 'link', 'add', name, 'type', 'bridge');
  // No spanning tree delay: a lab's links forward at once.
  await ip('-n', ns.name, 'link', 'set', name, 'type', 'bridge', 'forward_delay', '0', 'stp_state', '0');
  await ip('-n', ns.name, 'link', 'set', name, 'up');
}

/** A tap device `who` may open, on `bridge`, up. */
export async function addTap(ns: Netns, tap: string, bridge: string, who: RunAs | undefined): Promise<void> {
  await ip('-n', ns.name, 'tuntap', 'add', 'dev', tap, 'mode', 'tap', ...(who ? ['user', String(who.uid), 'group', String(who.gid)] : []));
  await ip('-n', ns.name, 'link', 'set', tap, 'master', bridge);
  await ip('-n', ns.name, 'link', 'set', tap, 'up');
}

/** Why `ifname` in umlbuild's own network namespace cannot be an uplink, or undefined when it is a bridge. */
export async function uplinkProblem(ifname: string): Promise<string | undefined> {
  if (!/^[A-Za-z0-9_.:-]{1,15}$/.test(ifname)) return 'not an interface name';
  const r = await exec('ip', ['-d', '-j', 'link', 'show', 'dev', ifname], { reject: false });
  if (r.exitCode !== 0) return 'no such interface on this host';
  const kind = (JSON.parse(r.stdout) as { linkinfo?: { info_kind?: string } }[])[0]?.linkinfo?.info_kind;
  return kind === 'bridge' ? undefined : `${kind ?? 'a physical interface'}, not a bridge (a lab segment joins a host bridge through a veth pair; umlbuild never enslaves an interface the host uses)`;
}

/**
 * Join segment bridge `bridge` in `ns` to the host bridge `uplink` with a veth pair: its host end (named from
 * the namespace and segment, at most 15 characters) on `uplink`, its other end on `bridge`. Deleting the
 * namespace deletes the pair.
 */
export async function addUplink(ns: Netns, segment: number, bridge: string, uplink: string): Promise<string> {
  const host = `lu${createHash('sha256').update(`${ns.name}/${segment}`).digest('hex').slice(0, 8)}`;
  const inner = `lup${segment}`;
  await ip('link', 'add', host, 'type', 'veth', 'peer', 'name', inner, 'netns', ns.name);
  await ip('link', 'set', host, 'master', uplink);
  await ip('link', 'set', host, 'up');
  await ip('-n', ns.name, 'link', 'set', inner, 'master', bridge);
  await ip('-n', ns.name, 'link', 'set', inner, 'up');
  return host;
}

/** Whether a network namespace of this name exists. */
export async function netnsExists(name: string): Promise<boolean> {
  const { stdout } = await exec('ip', ['netns', 'list'], { reject: false });
  return stdout.split('\n').some((l) => l.split(' ')[0] === name);
}

/** Delete the namespace (its bridges and taps with it); nothing when it is gone. */
export async function deleteNetns(name: string): Promise<void> {
  if (await netnsExists(name)) await ip('netns', 'delete', name);
}
