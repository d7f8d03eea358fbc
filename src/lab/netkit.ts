/**
 * A Netkit (or Kathará) lab directory -> the lab model, so such labs run
 * unchanged. What is read:
 *
 *   lab.conf        # comments and blank lines are skipped; values may be quoted ("A" or 'A')
 *     LAB_DESCRIPTION="..."           the lab's description
 *     LAB_VERSION, LAB_AUTHOR, LAB_EMAIL, LAB_WEB   accepted (metadata, not used)
 *     LAB_NAME=routed                 the lab's name (default: the directory's, its other characters as "-")
 *     machines="pc1 pc2 router"       Netkit's list of the machines (default: those lab.conf names)
 *     pc1[0]="A"                      eth0 of pc1 on collision domain (segment) A; A/02:00:00:00:00:01 fixes its MAC
 *     pc1[mem]=128                    memory in MiB (128M, 1G: with a unit)
 *     pc1[sysctl]="net.ipv4.ip_forward=1"   Kathará: `sysctl -w` at startup, before the startup scripts
 *     pc1[exec]="CMD"                 Kathará: a command run at startup, after the startup scripts
 *   Any other key or option (pc1[image], pc1[con0], pc1[bridged], ...) is an
 *   error naming lab.conf:LINE: a Kathará image is a container image, not a
 *   UML disk, so machines boot the image given below instead.
 *   pc1/            the machine's directory: copied onto its root before it boots (`tree`)
 *   pc1.startup     a shell script run at boot: copied to /etc/umlbuild-lab/startup and run as
 *                   `sh /etc/umlbuild-lab/startup` (as root, once the machine is up)
 *   shared.startup  run the same way on every machine (/etc/umlbuild-lab/shared.startup), first
 *   lab.dep         `pc3: pc1 pc2`: pc3 boots once pc1 and pc2 are up (`after`); a cycle is an error
 *   umlbuild-tests.yml   (umlbuild's, optional) `tests:` — the checks, as in a lab file (lab/load.ts) —
 *                   and `defaults:` (image or recipe, set, memory) for the machines
 * Not supported, and refused by name: `shared/` (Netkit's tree for every
 * machine), `NAME.shutdown`, and a `NAME.startup` of no machine. Other files
 * in the directory (README, _test/, ...) are not read.
 *
 * Netkit labs name no image: every machine boots the image (or recipe) the
 * caller gives (`{ image }` or `{ recipe, set }`: `umlbuild lab` options,
 * relative to the current directory), else umlbuild-tests.yml's defaults:,
 * else the shipped busybox recipe with network=none (startup scripts set
 * the addresses with ip or ifconfig, which busybox has). A `set` without an
 * image or recipe sets the variables of the recipe that applies; defaults:
 * memory applies to the machines with no [mem].
 *
 * Machine directories, startup scripts, lab.dep and umlbuild-tests.yml must
 * be inside the lab's directory once symbolic links are followed (a link out
 * is refused, naming it).
 */
import { readFile, readdir } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { RecipeError, type RecipeIssue } from '../errors.js';
import type { Lab, LabCheck, LabFile, LabMachine, LabSegment, LabSource } from '../model/lab.js';
import { didYouMean } from '../model/names.js';
import { LAB_NAME, LAB_NAME_RULE, type LabDefaultsYaml, netkitExtrasSchema } from './schema.js';
import { byPosition, findCycle, labPath, labZodIssues, machineSource, macProblem, memoryValue, readChecks, readLabYaml } from './validate.js';

export interface NetkitOptions {
  /** An image every machine boots (relative to the current directory). */
  image?: string;
  /** A recipe (shipped name or file) every machine boots. */
  recipe?: string;
  /** The recipe's variables. */
  set?: Record<string, string>;
}

/** The recipe a Netkit lab's machines boot when nobody names one. */
export const NETKIT_DEFAULT: LabDefaultsYaml = { recipe: 'busybox', set: { network: 'none' } };
/** Where a machine's startup scripts go in the guest. */
export const STARTUP_DIR = '/etc/umlbuild-lab';
const TESTS_FILE = 'umlbuild-tests.yml';
const METADATA = new Set(['LAB_DESCRIPTION', 'LAB_VERSION', 'LAB_AUTHOR', 'LAB_EMAIL', 'LAB_WEB', 'LAB_NAME']);
const SYSCTL = /^[A-Za-z0-9_./-]+=[A-Za-z0-9_.,:/ -]*$/;

interface Spec {
  name: string;
  line: number;
  interfaces: Map<number, { segment: string; mac?: string; line: number }>;
  memory?: string;
  sysctl: string[];
  exec: string[];
}

/** A lab.conf value: quoted ("..." or '...', then only a comment) or the rest of the line up to a " #" comment. */
function unquote(raw: string): { value: string } | { problem: string } {
  const q = raw[0];
  if (q !== '"' && q !== "'") return { value: raw.replace(/\s+#.*$/, '').trim() };
  const end = raw.indexOf(q, 1);
  if (end < 0) return { problem: `no closing ${q}` };
  const after = raw.slice(end + 1).trim();
  if (after && !after.startsWith('#')) return { problem: `text after the closing ${q}: ${after}` };
  return { value: raw.slice(1, end) };
}

export async function loadNetkitLab(dir: string, opts: NetkitOptions = {}): Promise<Lab> {
  const issues: RecipeIssue[] = [];
  const conf = join(dir, 'lab.conf');
  const at = (file: string, line: number, col: number, path: string, message: string): void => {
    issues.push({ file, line, col, path, message });
  };
  const fail = (line: number, col: number, path: string, message: string): RecipeIssue => ({ file: conf, line, col, path, message });
  const confOk = labPath(dir, 'lab.conf', 'file');
  if ('problem' in confOk) throw new RecipeError([{ file: conf, path: '', message: confOk.problem }]);
  const text = await readFile(conf, 'utf8');

  const specs = new Map<string, Spec>();
  const meta = new Map<string, { value: string; line: number }>();
  let listed: { names: string[]; line: number } | undefined;
  const parseLine = (raw: string, line: number): RecipeIssue | undefined => {
    const body = raw.replace(/\r$/, '');
    const trimmed = body.trim();
    if (!trimmed || trimmed.startsWith('#')) return;
    const indent = body.length - body.trimStart().length;
    const m = /^([^=[\s]+)\[([^\]]*)\]\s*=\s*(.*)$/.exec(trimmed);
    const g = m ? undefined : /^([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(trimmed);
    if (!m && !g) return fail(line, indent + 1, '', 'not KEY=VALUE or MACHINE[OPTION]=VALUE');
    const rawValue = (m ? m[3] : g![2])!;
    const valueCol = indent + trimmed.length - rawValue.length + 1;
    const v = unquote(rawValue);
    const key = m ? `${m[1]}[${m[2]}]` : g![1]!;
    if ('problem' in v) return fail(line, valueCol, key, v.problem);
    const value = v.value;
    if (g) {
      const k = g[1]!;
      if (k === 'machines') {
        if (listed) return fail(line, indent + 1, k, `machines= is given twice (first on line ${listed.line})`);
        const names = value.split(/\s+/).filter(Boolean);
        for (const nm of names) if (!LAB_NAME.test(nm)) at(conf, line, valueCol, k, `"${nm}" is not a valid machine name (${LAB_NAME_RULE})`);
        listed = { names, line };
        return;
      }
      if (!METADATA.has(k))
        return fail(line, indent + 1, k, `unknown key${didYouMean(k, [...METADATA, 'machines'])} (lab.conf holds LAB_DESCRIPTION, LAB_VERSION, LAB_AUTHOR, LAB_EMAIL, LAB_WEB, LAB_NAME, machines= and MACHINE[OPTION]= lines)`);
      const first = meta.get(k);
      if (first) return fail(line, indent + 1, k, `${k} is given twice (first on line ${first.line})`);
      meta.set(k, { value, line });
      return;
    }
    const [, name, option] = m as unknown as [string, string, string];
    if (!LAB_NAME.test(name)) return fail(line, indent + 1, key, `"${name}" is not a valid machine name (${LAB_NAME_RULE})`);
    const spec: Spec = specs.get(name) ?? { name, line, interfaces: new Map(), sysctl: [], exec: [] };
    specs.set(name, spec);
    const optionCol = indent + name.length + 2;
    if (/^\d+$/.test(option)) {
      const index = Number(option);
      if (index > 63) return fail(line, optionCol, key, 'interfaces are numbered 0 ... 63');
      const first = spec.interfaces.get(index);
      if (first) return fail(line, optionCol, key, `eth${index} of ${name} is already on ${first.segment} (line ${first.line})`);
      const [segment, mac, ...extra] = value.split('/') as [string, string | undefined];
      if (!LAB_NAME.test(segment)) return fail(line, valueCol, key, `"${segment}" is not a valid collision domain name (${LAB_NAME_RULE})`);
      if (extra.length) return fail(line, valueCol, key, `"${value}" is not DOMAIN or DOMAIN/MAC`);
      const macP = mac === undefined ? undefined : macProblem(mac);
      if (macP) return fail(line, valueCol, key, macP);
      spec.interfaces.set(index, { segment, ...(mac ? { mac: mac.toLowerCase() } : {}), line });
    } else if (option === 'mem') {
      if (!/^[1-9]\d*[KMGkmg]?$/.test(value)) return fail(line, valueCol, key, `"${value}" is not a memory size in MiB (128) or with a unit (128M)`);
      spec.memory = memoryValue(/^\d+$/.test(value) ? Number(value) : value);
    } else if (option === 'sysctl') {
      if (!SYSCTL.test(value)) return fail(line, valueCol, key, `"${value}" is not KEY=VALUE (net.ipv4.ip_forward=1)`);
      spec.sysctl.push(`sysctl -w ${value.replace(/ /g, '')}`);
    } else if (option === 'exec') {
      if (!value.trim()) return fail(line, valueCol, key, 'an empty command');
      spec.exec.push(value);
    } else if (option === 'image') {
      at(conf, line, optionCol, key, `a Kathará container image is not a UML disk: umlbuild boots every machine from the image or recipe given to \`umlbuild lab\` (or defaults: in ${TESTS_FILE}); remove this line`);
    } else {
      at(conf, line, optionCol, key, `unknown or unsupported option "${option}"${didYouMean(option, ['mem', 'sysctl', 'exec', 'image'])} (umlbuild reads NUMBER, mem, sysctl and exec)`);
    }
  };
  for (const [n, raw] of text.split('\n').entries()) {
    const failed = parseLine(raw, n + 1);
    if (failed) issues.push(failed);
  }

  // The machines: machines= when given (each lab.conf machine must be in it), else lab.conf's.
  if (listed) {
    for (const s of specs.values()) if (!listed.names.includes(s.name)) at(conf, s.line, 1, s.name, `machine ${s.name} is not in machines= (line ${listed.line})`);
    for (const nm of listed.names) if (LAB_NAME.test(nm) && !specs.has(nm)) specs.set(nm, { name: nm, line: listed.line, interfaces: new Map(), sysctl: [], exec: [] });
  }
  const names = listed ? listed.names.filter((nm) => specs.has(nm)) : [...specs.keys()];
  if (!names.length && !issues.length) at(conf, 1, 1, '', 'no machines: a lab.conf line such as pc1[0]=A declares one');

  // Files beside lab.conf.
  const entries = await readdir(dir, { withFileTypes: true });
  const present = new Set(entries.map((e) => e.name));
  for (const e of entries) {
    const startup = /^(.*)\.(startup|shutdown)$/.exec(e.name);
    if (startup && startup[2] === 'shutdown') issues.push({ file: join(dir, e.name), path: '', message: 'shutdown scripts are not supported (umlbuild stops machines through mconsole without running them); remove it' });
    else if (startup && startup[1] !== 'shared' && !names.includes(startup[1]!))
      issues.push({ file: join(dir, e.name), path: '', message: `a startup script of no machine${didYouMean(startup[1]!, names)} (machines: ${names.join(', ') || 'none'})` });
  }
  if (present.has('shared')) issues.push({ file: join(dir, 'shared'), path: '', message: "Netkit's shared/ directory (a tree copied onto every machine) is not supported; give each machine its own directory" });

  const guest = (f: string) => `${STARTUP_DIR}/${f}`;
  let shared: LabFile | undefined;
  if (present.has('shared.startup')) {
    const p = labPath(dir, 'shared.startup', 'file');
    if ('problem' in p) issues.push({ file: join(dir, 'shared.startup'), path: '', message: p.problem });
    else shared = { guest: guest('shared.startup'), host: p.path, mode: 0o755 };
  }

  const machines: LabMachine[] = [];
  const segments: LabSegment[] = [];
  for (const nm of names) {
    const spec = specs.get(nm)!;
    const files: LabFile[] = shared ? [shared] : [];
    const startup = [...spec.sysctl, ...(shared ? [`sh ${shared.guest}`] : [])];
    if (present.has(`${nm}.startup`)) {
      const p = labPath(dir, `${nm}.startup`, 'file');
      if ('problem' in p) issues.push({ file: join(dir, `${nm}.startup`), path: '', message: p.problem });
      else {
        files.push({ guest: guest('startup'), host: p.path, mode: 0o755 });
        startup.push(`sh ${guest('startup')}`);
      }
    }
    let tree: string | undefined;
    if (present.has(nm)) {
      const p = labPath(dir, nm, 'directory');
      if ('problem' in p) issues.push({ file: join(dir, nm), path: '', message: `${nm}'s directory: ${p.problem}` });
      else tree = p.path;
    }
    const interfaces = [...spec.interfaces.entries()]
      .sort(([a], [b]) => a - b)
      .map(([i, s]) => {
        if (!segments.some((x) => x.name === s.segment)) segments.push({ name: s.segment, where: `${conf}:${s.line}` });
        return { name: `eth${i}`, segment: s.segment, ...(s.mac ? { mac: s.mac } : {}) };
      });
    machines.push({
      name: nm,
      source: { kind: 'image', image: '' },
      ...(spec.memory ? { memory: spec.memory } : {}),
      interfaces,
      routes: [],
      files,
      ...(tree ? { tree } : {}),
      startup: [...startup, ...spec.exec],
      after: [],
      where: `${conf}:${spec.line}`,
    });
  }

  if (present.has('lab.dep')) {
    const p = labPath(dir, 'lab.dep', 'file');
    if ('problem' in p) issues.push({ file: join(dir, 'lab.dep'), path: '', message: p.problem });
    else applyDeps(join(dir, 'lab.dep'), await readFile(p.path, 'utf8'), machines, issues);
  }

  // umlbuild-tests.yml: the checks and the machines' defaults.
  let checks: LabCheck[] = [];
  let fileDefaults: LabDefaultsYaml = {};
  let reportDefaults = (_key: string, _message: string) => {};
  if (present.has(TESTS_FILE)) {
    const p = labPath(dir, TESTS_FILE, 'file');
    if ('problem' in p) issues.push({ file: join(dir, TESTS_FILE), path: '', message: p.problem });
    else {
      const source = await readLabYaml(p.path, `${TESTS_FILE} (tests:, defaults:)`);
      const parsed = netkitExtrasSchema.safeParse(source.toJS());
      if (!parsed.success) issues.push(...labZodIssues(source, [], parsed.error, netkitExtrasSchema));
      else {
        fileDefaults = parsed.data.defaults ?? {};
        checks = readChecks(source, ['tests'], parsed.data.tests ?? [], machines, issues);
        reportDefaults = (key, message) => issues.push(source.issue(['defaults', ...(key ? [key] : [])], message));
      }
    }
  }
  // The machines' image: the caller's, else the file's defaults:, else the shipped busybox recipe; set: merged in that order.
  const caller = opts.image !== undefined || opts.recipe !== undefined;
  const fileSource = fileDefaults.image !== undefined || fileDefaults.recipe !== undefined;
  let source: LabSource | undefined;
  if (caller) {
    const given = { ...(opts.image !== undefined ? { image: opts.image } : {}), ...(opts.recipe !== undefined ? { recipe: opts.recipe } : {}), set: opts.set ?? {} };
    source = machineSource({}, given, process.cwd(), (key, message) => issues.push({ file: key === 'image' ? '--image' : '--recipe', path: '', message }));
  } else if (fileSource) {
    source = machineSource({}, { ...fileDefaults, set: { ...fileDefaults.set, ...opts.set } }, dir, reportDefaults);
  } else {
    source = machineSource({}, { ...NETKIT_DEFAULT, set: { ...NETKIT_DEFAULT.set, ...fileDefaults.set, ...opts.set } }, dir, reportDefaults);
  }
  const memory = memoryValue(fileDefaults.memory);
  for (const m of machines) {
    if (source) m.source = source;
    if (memory && !m.memory) m.memory = memory;
  }
  const labName = meta.get('LAB_NAME');
  if (labName && !LAB_NAME.test(labName.value)) at(conf, labName.line, 1, 'LAB_NAME', `"${labName.value}" is not a valid name (${LAB_NAME_RULE})`);
  if (issues.length) throw new RecipeError(byPosition(issues));
  const fallback =
    basename(dir)
      .replace(/[^A-Za-z0-9_-]/g, '-')
      .replace(/^[-_]+/, '')
      .slice(0, 32) || 'lab';
  const description = meta.get('LAB_DESCRIPTION')?.value;
  return { name: labName?.value ?? fallback, ...(description ? { description } : {}), file: conf, dir, format: 'netkit', machines, segments, checks };
}

/** lab.dep: `MACHINE: MACHINE...` lines -> each machine's `after`; a cycle is an error naming it. */
function applyDeps(file: string, text: string, machines: LabMachine[], issues: RecipeIssue[]): void {
  const byName = new Map(machines.map((m) => [m.name, m]));
  const names = [...byName.keys()];
  const lineOf = new Map<string, number>();
  const parseLine = (raw: string, line: number): void => {
    const body = raw.replace(/\r$/, '');
    const trimmed = body.trim();
    if (!trimmed || trimmed.startsWith('#')) return;
    const col = body.length - body.trimStart().length + 1;
    const m = /^([^:\s]+)\s*:\s*(.*)$/.exec(trimmed);
    if (!m) {
      issues.push({ file, line, col, path: '', message: 'not MACHINE: MACHINE... (pc3: pc1 pc2)' });
      return;
    }
    const [, name, rest] = m as unknown as [string, string, string];
    const machine = byName.get(name);
    if (!machine) {
      issues.push({ file, line, col, path: name, message: `no machine "${name}" in lab.conf${didYouMean(name, names)}` });
      return;
    }
    lineOf.set(name, lineOf.get(name) ?? line);
    const start = trimmed.length - rest.length;
    for (const token of rest.matchAll(/\S+/g)) {
      const dep = token[0];
      const depCol = col + start + token.index;
      if (dep === name) issues.push({ file, line, col: depCol, path: name, message: `machine ${name} cannot wait for itself` });
      else if (!byName.has(dep)) issues.push({ file, line, col: depCol, path: name, message: `no machine "${dep}" in lab.conf${didYouMean(dep, names)}` });
      else if (!machine.after.includes(dep)) machine.after.push(dep);
    }
  };
  for (const [n, raw] of text.split('\n').entries()) parseLine(raw, n + 1);
  const cycle = findCycle(new Map(machines.map((m) => [m.name, m.after])));
  if (cycle) issues.push({ file, line: lineOf.get(cycle[0]!) ?? 1, col: 1, path: cycle[0]!, message: `machines wait for each other in a circle: ${cycle.join(' -> ')}` });
}
