/**
 * Load a lab: umlbuild's lab file (YAML, below) or a Netkit/Kathará lab
 * directory (lab/netkit.ts), into the model of model/lab.ts. Every problem is
 * reported at once, as a RecipeError (exit 2) with FILE:LINE:COL key, like
 * recipes.
 *
 * `loadLab(PATH, { image, recipe, set })`: PATH is a lab file, a directory
 * holding lab.yml, or a Netkit lab (a directory holding lab.conf, or that
 * lab.conf). A directory with both is refused: name the file. The options
 * give a Netkit lab's machines their image (lab/netkit.ts); a lab file names
 * its own and ignores them.
 *
 * The lab file (labs/lab.schema.json is its JSON Schema; unknown keys are errors):
 *
 *   name: routed                 # default: the file's name (lab.yml: its directory's)
 *   description: two LANs and a router
 *   defaults:                    # for every machine that names no image or recipe
 *     recipe: busybox            #   a shipped recipe or a recipe file: built, or reused from the cache
 *     set: { network: none }     #   the recipe's variables
 *     # image: ../out/busybox.img  (or an image umlbuild built; not both)
 *     memory: 64M                #   UML's mem= (a number: MiB)
 *   segments: [lan1, lan2]       # collision domains: a private bridge each; or a map:
 *                                #   { lan1: null, wan: { uplink: br0 } } (uplink: a host bridge; up/test need --allow-uplink)
 *   machines:                    # names: letters, digits, - and _ (at most 32)
 *     a:
 *       interfaces:              # eth0 ... eth63
 *         eth0: { segment: lan1, address: 10.0.1.2/24 }   # mac: 02:..: optional
 *       routes: [default via 10.0.1.1]                     # DEST via GATEWAY, DEST a network or default
 *     r:
 *       interfaces:
 *         eth0: { segment: lan1, address: 10.0.1.1/24 }
 *         eth1: { segment: lan2, address: 10.0.2.1/24 }
 *       startup: [sysctl -w net.ipv4.ip_forward=1]         # run as root once it is up (a string: one command)
 *     b:
 *       interfaces: { eth0: { segment: lan2, address: 10.0.2.2/24 } }
 *       routes: [default via 10.0.2.1]
 *       files: { /etc/motd: files/motd }                   # or { source: files/x, mode: "0755" }
 *       tree: b-root                                       # a directory copied onto its root
 *       after: [r]                                         # boot once r is up
 *       memory: 32M
 *       # image:, recipe:, set: as in defaults (a machine's own replace the defaults')
 *   tests:                       # run once every machine is up; `lab test` passes when all do
 *     - { on: a, ping: 10.0.2.2 }                         # or ping: b (its first address); count: 3
 *     - { on: a, tcp: { to: b, mbytes: 4 } }              # address: (default: b's first), port: 5001
 *     - { on: b, run: ip route, expect: "default via 10.0.2.1", status: 0 }
 *     # name: "..." names a check; default: "a: ping 10.0.2.2", "b: run ip route", ...
 *
 * Files, trees and recipe files are relative to the lab file. Files and
 * trees must be inside the lab's directory, symbolic links followed: a lab
 * copies nothing from elsewhere on the host into its machines. Images and
 * recipes may be anywhere. The loader checks that they exist and reads none
 * of them.
 */
import { stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { RecipeError, type RecipeIssue } from '../errors.js';
import type { Lab, LabFile, LabInterface, LabMachine, LabSegment } from '../model/lab.js';
import { didYouMean } from '../model/names.js';
import type { KeyPath } from '../recipe/source.js';
import { LAB_NAME, LAB_NAME_RULE, type LabDefaultsYaml, type LabYaml, labYamlSchema } from './schema.js';
import { byPosition, cidrProblem, findCycle, guestPathProblem, isFile, labPath, labZodIssues, machineSource, macProblem, memoryValue, readChecks, readLabYaml, routeProblem, where } from './validate.js';
import { loadNetkitLab, type NetkitOptions } from './netkit.js';

export type LabLoadOptions = NetkitOptions;

export async function loadLab(path: string, opts: LabLoadOptions = {}): Promise<Lab> {
  const abs = resolve(path);
  const st = await stat(abs).catch(() => undefined);
  if (!st) throw new RecipeError([{ file: abs, path: '', message: 'no such lab file or directory' }]);
  if (st.isDirectory()) {
    const conf = isFile(join(abs, 'lab.conf'));
    const yml = isFile(join(abs, 'lab.yml'));
    if (conf && yml) throw new RecipeError([{ file: abs, path: '', message: 'holds both lab.conf (a Netkit lab) and lab.yml: name the one to load' }]);
    if (conf) return loadNetkitLab(abs, opts);
    if (yml) {
      yamlOnly(join(abs, 'lab.yml'), opts);
      return loadYamlLab(join(abs, 'lab.yml'));
    }
    throw new RecipeError([{ file: abs, path: '', message: 'not a lab: no lab.yml (an umlbuild lab) or lab.conf (a Netkit lab) in it' }]);
  }
  if (basename(abs) === 'lab.conf') return loadNetkitLab(dirname(abs), opts);
  yamlOnly(abs, opts);
  return loadYamlLab(abs);
}

/** A lab file names its machines' images itself: an image or recipe from outside is for Netkit labs only. */
function yamlOnly(file: string, opts: LabLoadOptions): void {
  if (opts.image || opts.recipe) throw new RecipeError([{ file, path: '', message: 'an image or recipe given for every machine (--image, --recipe) is for Netkit labs: a lab file names them (defaults: or each machine)' }]);
}

async function loadYamlLab(file: string): Promise<Lab> {
  const source = await readLabYaml(file, 'a lab file (name, segments, machines, tests)');
  const dir = dirname(source.file);
  const parsed = labYamlSchema.safeParse(source.toJS());
  if (!parsed.success) throw new RecipeError(byPosition(labZodIssues(source, [], parsed.error, labYamlSchema)));
  const data: LabYaml = parsed.data;
  const issues: RecipeIssue[] = [];
  const issue = (path: KeyPath, message: string, key = false) => issues.push(source.issue(path, message, { key }));

  const fallback = basename(file) === 'lab.yml' ? basename(dir) : basename(file).replace(/\.ya?ml$/, '');
  const name = data.name ?? fallback;
  if (!LAB_NAME.test(name)) issue([], `the lab's name defaults to "${fallback}", which is not a valid name (${LAB_NAME_RULE}): give name:`);

  const segments: LabSegment[] = Array.isArray(data.segments)
    ? data.segments.map((s, i) => ({ name: s, where: where(source, ['segments', i]) }))
    : Object.entries(data.segments ?? {}).map(([s, v]) => ({ name: s, ...(v?.uplink ? { uplink: v.uplink } : {}), where: where(source, ['segments', s]) }));
  const list = Array.isArray(data.segments) ? data.segments : [];
  list.forEach((s, i) => {
    if (list.indexOf(s) !== i) issue(['segments', i], `segment ${s} is listed twice`);
  });
  const segmentNames = new Set(segments.map((s) => s.name));

  const defaults: LabDefaultsYaml = data.defaults ?? {};
  const machines: LabMachine[] = [];
  const addressAt = new Map<string, string>();
  const machineNames = Object.keys(data.machines);
  if (!machineNames.length) issue(['machines'], 'a lab needs at least one machine');
  for (const [m, spec] of Object.entries(data.machines)) {
    const at: KeyPath = ['machines', m];
    const source_ = machineSource(spec, defaults, dir, (key, message, inDefaults) => issue(key ? [...(inDefaults ? ['defaults'] : at), key] : at, message, !key));
    const interfaces: LabInterface[] = [];
    const ifaces = Object.entries(spec.interfaces ?? {}).sort(([a], [b]) => Number(a.slice(3)) - Number(b.slice(3)));
    for (const [ifname, i] of ifaces) {
      const ip: KeyPath = [...at, 'interfaces', ifname];
      if (!segmentNames.has(i.segment)) issue([...ip, 'segment'], `no segment "${i.segment}" in the lab${didYouMean(i.segment, segmentNames)} (segments: ${[...segmentNames].join(', ') || 'none'})`);
      if (i.address !== undefined) {
        const p = cidrProblem(i.address);
        if (p) issue([...ip, 'address'], p);
        else {
          const bare = i.address.split('/')[0]!;
          const other = addressAt.get(bare);
          if (other) issue([...ip, 'address'], `${bare} is also ${other}'s address`);
          else addressAt.set(bare, `${m}.${ifname}`);
        }
      }
      if (i.mac !== undefined) {
        const p = macProblem(i.mac);
        if (p) issue([...ip, 'mac'], p);
      }
      interfaces.push({ name: ifname, segment: i.segment, ...(i.address !== undefined ? { address: i.address } : {}), ...(i.mac !== undefined ? { mac: i.mac.toLowerCase() } : {}) });
    }
    const addresses = interfaces.flatMap((i) => (i.address && !cidrProblem(i.address) ? [i.address] : []));
    (spec.routes ?? []).forEach((r, n) => {
      const p = routeProblem(r, addresses);
      if (p) issue([...at, 'routes', n], p);
    });
    const files: LabFile[] = [];
    for (const [guest, f] of Object.entries(spec.files ?? {})) {
      const fp: KeyPath = [...at, 'files', guest];
      const gp = guestPathProblem(guest);
      if (gp) issue(fp, gp, true);
      const src = typeof f === 'string' ? f : f.source;
      const host = labPath(dir, src, 'file');
      if ('problem' in host) issue(typeof f === 'string' ? fp : [...fp, 'source'], host.problem);
      else if (!gp) files.push({ guest, host: host.path, ...(typeof f !== 'string' && f.mode ? { mode: parseInt(f.mode, 8) } : {}) });
    }
    let tree: string | undefined;
    if (spec.tree !== undefined) {
      const t = labPath(dir, spec.tree, 'directory');
      if ('problem' in t) issue([...at, 'tree'], t.problem);
      else tree = t.path;
    }
    const after = spec.after ?? [];
    after.forEach((a, n) => {
      if (a === m) issue([...at, 'after', n], `machine ${m} cannot wait for itself`);
      else if (!(a in data.machines)) issue([...at, 'after', n], `no machine "${a}" in the lab${didYouMean(a, machineNames)}`);
    });
    const memory = memoryValue(spec.memory ?? defaults.memory);
    machines.push({
      name: m,
      source: source_ ?? { kind: 'image', image: '' },
      ...(memory ? { memory } : {}),
      interfaces,
      routes: (spec.routes ?? []).map((r) => r.trim().replace(/\s+/g, ' ')),
      files,
      ...(tree ? { tree } : {}),
      startup: spec.startup === undefined ? [] : typeof spec.startup === 'string' ? [spec.startup] : spec.startup,
      after: [...new Set(after)],
      where: where(source, at),
    });
  }
  const cycle = findCycle(new Map(machines.map((m) => [m.name, m.after.filter((a) => a !== m.name && a in data.machines)])));
  if (cycle) issue(['machines', cycle[0]!, 'after'], `machines wait for each other in a circle: ${cycle.join(' -> ')}`);
  const checks = readChecks(source, ['tests'], data.tests ?? [], machines, issues);
  if (issues.length) throw new RecipeError(byPosition(issues));
  return { name, ...(data.description !== undefined ? { description: data.description } : {}), file: source.file, dir, format: 'umlbuild', machines, segments, checks };
}
