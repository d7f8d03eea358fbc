/**
 * Checks both lab formats share: addresses, routes and MACs; machine sources
 * (image or recipe); the order machines start in (cycles); the checks a lab
 * runs (tests:), resolved to the model's LabCheck with default names.
 */
import { realpathSync, statSync } from 'node:fs';
import { isIP } from 'node:net';
import { posix, resolve } from 'node:path';
import { RecipeError, type RecipeIssue } from '../errors.js';
import type { LabCheck, LabMachine, LabSource } from '../model/lab.js';
import { didYouMean } from '../model/names.js';
import { findRecipe } from '../recipe/shipped.js';
import type { z } from 'zod';
import { formatPath, type KeyPath, RecipeSource } from '../recipe/source.js';
import { zodIssues } from '../recipe/zod-issues.js';
import type { LabCheckYaml, LabDefaultsYaml } from './schema.js';

/** The TCP port a tcp check listens on unless it names one. */
export const DEFAULT_TCP_PORT = 5001;
export const DEFAULT_PING_COUNT = 3;
export const DEFAULT_TCP_MBYTES = 1;

/** An address as a number and its width in bits. */
function ipBits(ip: string): { value: bigint; bits: number } | undefined {
  const family = isIP(ip);
  if (family === 4) return { value: ip.split('.').reduce((acc, o) => (acc << 8n) | BigInt(Number(o)), 0n), bits: 32 };
  if (family !== 6) return undefined;
  let text = ip;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const n = ipBits(v4[1]!)!.value;
    text = `${text.slice(0, -v4[1]!.length)}${(n >> 16n).toString(16)}:${(n & 0xffffn).toString(16)}`;
  }
  const [head, tail] = text.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  return { value: groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n), bits: 128 };
}

/** Why `s` is not ADDRESS/PREFIX, or undefined. */
export function cidrProblem(s: string): string | undefined {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(s);
  if (!m) return `"${s}" is not ADDRESS/PREFIX (10.0.1.2/24)`;
  const family = isIP(m[1]!);
  if (!family) return `"${m[1]}" is not an IP address`;
  if (Number(m[2]) > (family === 4 ? 32 : 128)) return `prefix /${m[2]} is longer than an IPv${family} address`;
  return undefined;
}

/** Whether ip lies in the network of cidr (ADDRESS/PREFIX). */
export function inNetwork(ip: string, cidr: string): boolean {
  const [net, len] = cidr.split('/') as [string, string];
  const a = ipBits(ip);
  const b = ipBits(net);
  if (!a || !b || a.bits !== b.bits) return false;
  const shift = BigInt(a.bits - Number(len));
  return a.value >> shift === b.value >> shift;
}

/** Why a route is not `DEST via GATEWAY` reachable from one of `addresses` (ADDRESS/PREFIX), or undefined. */
export function routeProblem(route: string, addresses: string[]): string | undefined {
  const m = /^\s*(\S+)\s+via\s+(\S+)\s*$/.exec(route);
  if (!m) return `"${route}" is not DEST via GATEWAY (default via 10.0.1.1, 10.0.3.0/24 via 10.0.1.1)`;
  const [, dest, gw] = m as unknown as [string, string, string];
  const gwFamily = isIP(gw);
  if (!gwFamily) return `gateway "${gw}" is not an IP address`;
  if (dest !== 'default') {
    const p = cidrProblem(dest);
    if (p) return `destination: ${p}, or "default"`;
    if (isIP(dest.split('/')[0]!) !== gwFamily) return `destination ${dest} and gateway ${gw} are not the same IP version`;
  }
  const same = addresses.filter((a) => isIP(a.split('/')[0]!) === gwFamily);
  if (same.length && !same.some((a) => inNetwork(gw, a))) return `gateway ${gw} is on none of this machine's networks (${same.join(', ')})`;
  return undefined;
}

/** Why `s` is not a unicast MAC address, or undefined. */
export function macProblem(s: string): string | undefined {
  if (!/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/i.test(s)) return `"${s}" is not a MAC address (02:00:00:00:00:01)`;
  if (parseInt(s.slice(0, 2), 16) & 1) return `${s} is a multicast address (the first octet's lowest bit is set)`;
  if (/^(00:){5}00$/.test(s)) return 'the all-zero MAC address';
  return undefined;
}

/** A cycle in `after` (machine -> machines it waits for), as names (the first repeated at the end), or undefined. */
export function findCycle(after: Map<string, string[]>): string[] | undefined {
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (n: string): string[] | undefined => {
    if (state.get(n) === 'done') return undefined;
    if (state.get(n) === 'open') return [...stack.slice(stack.indexOf(n)), n];
    state.set(n, 'open');
    stack.push(n);
    for (const m of after.get(n) ?? []) {
      const c = visit(m);
      if (c) return c;
    }
    stack.pop();
    state.set(n, 'done');
    return undefined;
  };
  for (const n of [...after.keys()].sort()) {
    const c = visit(n);
    if (c) return c;
  }
  return undefined;
}

export const isFile = (p: string) => statSync(p, { throwIfNoEntry: false })?.isFile() ?? false;

/**
 * A machine's source: its own image or recipe, else the defaults'. Problems
 * are reported through `report` (the key, the message).
 */
export function machineSource(own: LabDefaultsYaml, defaults: LabDefaultsYaml, dir: string, report: (key: 'image' | 'recipe' | 'set' | '', message: string, inDefaults: boolean) => void): LabSource | undefined {
  const ownSource = own.image !== undefined || own.recipe !== undefined;
  if ((ownSource ? own : defaults).image !== undefined && (ownSource ? own : defaults).recipe !== undefined) {
    report('recipe', 'give image or recipe, not both', !ownSource);
    return undefined;
  }
  const spec = ownSource ? own : defaults;
  const set = ownSource ? { ...own.set } : { ...defaults.set, ...own.set };
  if (spec.image !== undefined) {
    const why = 'set gives a recipe its variables; this machine boots an image';
    if (Object.keys(own.set ?? {}).length) report('set', why, false);
    else if (!ownSource && Object.keys(defaults.set ?? {}).length) report('set', why, true);
    const image = resolve(dir, spec.image);
    if (!isFile(image)) {
      report('image', `no such image: ${image}`, !ownSource);
      return undefined;
    }
    return { kind: 'image', image };
  }
  if (spec.recipe !== undefined) {
    let file: string;
    try {
      const ref = findRecipe(spec.recipe, { cwd: dir });
      file = ref.from === 'shipped' ? ref.file : resolve(dir, ref.file);
    } catch (e) {
      if (!(e instanceof RecipeError)) throw e;
      report('recipe', `${spec.recipe}: ${e.issues[0]!.message}`, !ownSource);
      return undefined;
    }
    if (!isFile(file)) {
      report('recipe', `no such recipe file: ${file}`, !ownSource);
      return undefined;
    }
    return { kind: 'recipe', recipe: file, set: Object.fromEntries(Object.entries(set).map(([k, v]) => [k, String(v)])) };
  }
  report('', 'no image: give image: or recipe: (here or in defaults:)', false);
  return undefined;
}

/** UML's mem= from a lab's memory value (a number is MiB). */
export function memoryValue(m: string | number | undefined): string | undefined {
  if (m === undefined) return undefined;
  return typeof m === 'number' ? `${m}M` : m.toUpperCase();
}

const addressOf = (m: LabMachine | undefined) => m?.interfaces.find((i) => i.address)?.address?.split('/')[0];
const shortCommand = (c: string) => {
  const line = c.trim().split('\n')[0]!;
  return line.length > 60 || c.trim().includes('\n') ? `${line.slice(0, 57)}...` : line;
};

/**
 * The checks (`tests:` of a lab file or of a Netkit lab's umlbuild-tests.yml)
 * resolved against the lab's machines; problems are pushed to `issues` at
 * their key.
 */
export function readChecks(source: RecipeSource, at: KeyPath, raw: LabCheckYaml[], machines: LabMachine[], issues: RecipeIssue[]): LabCheck[] {
  const byName = new Map(machines.map((m) => [m.name, m]));
  const names = [...byName.keys()];
  const unknown = (n: string) => `no machine "${n}" in the lab${didYouMean(n, names)} (machines: ${names.join(', ') || 'none'})`;
  const checks: LabCheck[] = [];
  const seen = new Map<string, number>();
  for (const [index, c] of raw.entries()) {
    const path = [...at, index];
    const push = (key: KeyPath, message: string) => issues.push(source.issue([...path, ...key], message));
    const count = issues.length;
    if (!byName.has(c.on)) push(['on'], unknown(c.on));
    const kinds = (['ping', 'tcp', 'run'] as const).filter((k) => c[k] !== undefined);
    if (kinds.length !== 1) push([], kinds.length ? `a check does one thing: ${kinds.join(' and ')} given` : 'a check needs one of ping, tcp or run');
    if (c.count !== undefined && c.ping === undefined) push(['count'], 'count goes with ping');
    for (const k of ['expect', 'status'] as const) if (c[k] !== undefined && c.run === undefined) push([k], `${k} goes with run`);
    if (c.expect !== undefined) {
      try {
        new RegExp(c.expect);
      } catch (e) {
        push(['expect'], `not a regular expression: ${(e as Error).message}`);
      }
    }
    const at_ = where(source, path);
    let check: LabCheck | undefined;
    if (kinds.length === 1 && kinds[0] === 'ping') {
      const target = c.ping!;
      const address = isIP(target) ? target : addressOf(byName.get(target));
      if (!address) push(['ping'], byName.has(target) ? `machine ${target} has no address to ping` : `"${target}" is neither an IP address nor a machine${didYouMean(target, names)}`);
      else check = { kind: 'ping', name: c.name ?? `${c.on}: ping ${target}${target === address ? '' : ` (${address})`}`, machine: c.on, address, count: c.count ?? DEFAULT_PING_COUNT, where: at_ };
    } else if (kinds.length === 1 && kinds[0] === 'tcp') {
      const t = c.tcp!;
      if (!byName.has(t.to)) push(['tcp', 'to'], unknown(t.to));
      else if (t.to === c.on) push(['tcp', 'to'], `a tcp check sends from one machine to another, not to itself (${t.to})`);
      if (t.address !== undefined && !isIP(t.address)) push(['tcp', 'address'], `"${t.address}" is not an IP address`);
      const address = t.address ?? addressOf(byName.get(t.to));
      if (!address && byName.has(t.to)) push(['tcp'], `machine ${t.to} has no address in the lab: give address:`);
      const port = t.port ?? DEFAULT_TCP_PORT;
      const mbytes = t.mbytes ?? DEFAULT_TCP_MBYTES;
      if (address) check = { kind: 'tcp', name: c.name ?? `${c.on}: tcp ${mbytes} MiB to ${t.to} (${address}:${port})`, machine: c.on, to: t.to, address, port, mbytes, where: at_ };
    } else if (kinds.length === 1 && kinds[0] === 'run') {
      if (!c.run!.trim()) push(['run'], 'an empty command');
      else check = { kind: 'run', name: c.name ?? `${c.on}: run ${shortCommand(c.run!)}`, machine: c.on, command: c.run!, status: c.status ?? 0, ...(c.expect !== undefined ? { expect: c.expect } : {}), where: at_ };
    }
    if (!check || issues.length > count) continue;
    const first = seen.get(check.name);
    if (first !== undefined) {
      if (c.name !== undefined) {
        push(['name'], `a second check named "${check.name}" (the first is ${formatPath([...at, first])})`);
        continue;
      }
      let n = 2;
      while (seen.has(`${check.name} (${n})`)) n++;
      check.name = `${check.name} (${n})`;
    }
    seen.set(check.name, index);
    checks.push(check);
  }
  return checks;
}

/** Whether `path` is `dir` or below it (both absolute, normalized). */
export function isInside(path: string, dir: string): boolean {
  return path === dir || path.startsWith(dir.endsWith('/') ? dir : `${dir}/`);
}

/** Why `p` is not an absolute, normalized guest path of a file, or undefined. */
export function guestPathProblem(p: string): string | undefined {
  if (/[\x00-\x1f\x7f]/.test(p)) return 'a guest path holds no newline or control character';
  if (!p.startsWith('/')) return `"${p}" is not an absolute guest path (/etc/motd)`;
  if (p === '/' || p.endsWith('/') || posix.normalize(p) !== p) return `"${p}" is not a plain path to a file (no "..", ".", "//" or trailing "/")`;
  return undefined;
}

/**
 * A host path the lab copies into a machine (a file or a tree): `rel`
 * resolved against the lab's directory must be inside it, and so must what
 * it resolves to once symbolic links are followed: a lab never copies a host
 * file from outside its own directory into a guest. The path, or a problem.
 */
export function labPath(dir: string, rel: string, want: 'file' | 'directory'): { path: string } | { problem: string } {
  const path = resolve(dir, rel);
  let realDir: string;
  try {
    realDir = realpathSync(dir);
  } catch {
    realDir = dir;
  }
  if (!isInside(path, dir) && !isInside(path, realDir)) return { problem: `${rel} is outside the lab's directory ${dir} (a lab copies only its own files into machines)` };
  let real: string;
  try {
    real = realpathSync(path);
  } catch (e) {
    return { problem: (e as NodeJS.ErrnoException).code === 'ENOENT' ? `no such ${want}: ${path}` : `cannot read ${path}: ${(e as Error).message}` };
  }
  if (!isInside(real, realDir)) return { problem: `${path} is a symbolic link (or under one) that leads out of the lab's directory, to ${real}; refused` };
  const st = statSync(real);
  if (want === 'file' ? !st.isFile() : !st.isDirectory()) return { problem: `${path} is not a ${want === 'file' ? 'regular file' : 'directory'}` };
  return { path };
}

/** Zod's issues, a record key that is not a valid name located at the key itself. */
export function labZodIssues(source: RecipeSource, at: KeyPath, error: z.ZodError, schema: z.ZodType): RecipeIssue[] {
  const out: RecipeIssue[] = [];
  const rest: z.core.$ZodIssue[] = [];
  for (const i of error.issues) {
    if (i.code !== 'invalid_key') {
      rest.push(i);
      continue;
    }
    const path = [...at, ...(i.path as (string | number)[])];
    out.push(source.issue(path, `"${String(path[path.length - 1])}": ${i.issues[0]?.message ?? 'not a valid name'}`, { key: true }));
  }
  return [...out, ...zodIssues(source, at, { issues: rest } as z.ZodError, schema)];
}

/** Issues in file order. */
export function byPosition(issues: RecipeIssue[]): RecipeIssue[] {
  const seen = new Set<string>();
  return issues
    .filter((i) => {
      const key = JSON.stringify([i.file, i.line, i.col, i.path, i.message]);
      return !seen.has(key) && Boolean(seen.add(key));
    })
    .map((i, n) => ({ i, n }))
    .sort((a, b) => a.i.file.localeCompare(b.i.file) || (a.i.line ?? 0) - (b.i.line ?? 0) || (a.i.col ?? 0) - (b.i.col ?? 0) || a.n - b.n)
    .map(({ i }) => i);
}

/** Read a YAML file of the lab formats (the lab file, a Netkit lab's umlbuild-tests.yml). */
export async function readLabYaml(file: string, what: string): Promise<RecipeSource> {
  const { source, issues } = await RecipeSource.read(file);
  if (!source) throw new RecipeError(issues.map((i) => (i.message.startsWith('a recipe must be') ? { ...i, message: `${what} must be a YAML mapping` } : i)));
  return source;
}

/** A model `where`: FILE:LINE:COL key. */
export function where(source: RecipeSource, path: KeyPath): string {
  const at = source.locate(path);
  return `${source.file}:${at.line ?? 1}:${at.col ?? 1} ${formatPath(path)}`;
}
