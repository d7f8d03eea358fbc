/**
 * YAML -> variables -> schema -> plan. Every problem in a recipe (and in the
 * files it extends) is collected and reported at once with file:line:col.
 */
import { createHash } from 'node:crypto';
import type { PlanData } from '../model/plan.js';
import { dirname, resolve } from 'node:path';
import { RecipeError, type RecipeIssue } from '../errors.js';
import { registerSecret } from '../host/secrets.js';
import { proxyUrlProblem, registerProxySecrets } from '../host/proxy.js';
import { findStep } from '../steps/index.js';
import { firstProviding, firstReleasing, orderProblems, outputOf, traitsOf } from '../steps/select.js';
import type { HookStage } from '../steps/hook.js';
import { launchSchema, NO_HOSTFS, type LaunchConfig } from '../launch/schema.js';
import { networkWarnings } from '../launch/transports.js';
import { recipeFileSchema, testSchema } from './schema.js';
import { RecipeSource, type KeyPath } from './source.js';
import { interpolate } from './variables.js';
import { checkStepInputs, VariableFlow } from './flow.js';
import { fileNameValue } from '../model/values.js';
import { readVariables, type VariableOverrides } from './variable-defs.js';
import { zodIssues } from './zod-issues.js';
import { planStep, type PlannedStep } from './plan-step.js';
import { planVariants, type PlannedVariant } from './variants.js';

export type { PlannedStep };

/** The plan: its data (model/plan.ts) with what cannot be data: each step's implementation and source, the secret variables. */
export interface Plan extends PlanData {
  secretVars: Set<string>;
  /** Secret variables umlbuild generated for this build (name → value): shown once at its end, never recorded. */
  generated: Map<string, string>;
  /** Secret variables given with --set or UMLBUILD_VAR_* (so `umlbuild test` cannot read them back from the recipe). */
  givenSecrets: Set<string>;
  steps: PlannedStep[];
  /** COW variants built over the image (`variants:`). */
  variants: PlannedVariant[];
  /** Add to issues found later (step checks) the variables that filled their field and the flag or environment variable that gave them. */
  annotate?: (issues: RecipeIssue[]) => void;
}

export interface Reproducible {
  epoch: number;
  /** Derived from the recipe name and epoch: the same for every build of it. */
  uuid: string;
}

/** A UUID (version 4 layout) that depends only on the seed. */
export function derivedUuid(seed: string): string {
  const h = createHash('sha256').update(seed).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${((parseInt(h[16]!, 16) & 3) | 8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** The epoch of `reproducible: true` without SOURCE_DATE_EPOCH: 2000-01-01. */
export const DEFAULT_EPOCH = 946684800;

export interface LoadOptions extends VariableOverrides {
  /** `hostfs`: build the hostfs-root variant (a directory) instead of an image. */
  variant?: 'image' | 'hostfs';
  /** hostfs root: chown the tree to USER[:GROUP]. */
  owner?: string;
  /** Host scripts from --hook STAGE=SCRIPT. */
  hooks?: { stage: HookStage; script: string; args?: string[] }[];
}

interface Layer {
  source: RecipeSource;
  data: Record<string, unknown>;
}

/** Top-level keys of a recipe file: an extends target with none of them is not a recipe. */
const RECIPE_KEYS = new Set(Object.keys(recipeFileSchema.shape));

/**
 * Why an extends target is not a recipe (a YAML mapping with recipe keys),
 * or undefined. What is not (a key file, /etc/shadow named by mistake) is
 * reported without a word of its content: where it failed, no message or
 * key from it.
 */
function notARecipe(source: RecipeSource | undefined, readIssues: RecipeIssue[]): string | undefined {
  const at = readIssues.find((i) => i.line !== undefined);
  if (!source) return at ? `it does not parse as a recipe (${at.file}:${at.line}:${at.col})` : undefined;
  return Object.keys(source.toJS()).some((k) => RECIPE_KEYS.has(k)) ? undefined : 'it has none of the keys of a recipe (name, variables, steps, ...)';
}

type Chain = Layer[] | { notARecipe: string };

export async function readChain(file: string, issues: RecipeIssue[], seen: string[] = []): Promise<Chain> {
  const abs = resolve(file);
  const { source, issues: readIssues } = await RecipeSource.read(abs);
  const why = seen.length ? notARecipe(source, readIssues) : undefined;
  if (why) return { notARecipe: why };
  issues.push(...readIssues);
  if (!source) return [];
  const data = source.toJS();
  const top = recipeFileSchema.safeParse(data);
  if (!top.success) issues.push(...zodIssues(source, [], top.error, recipeFileSchema));
  const layer = { source, data };
  const parent = data.extends;
  if (typeof parent !== 'string') return [layer];
  const parentFile = resolve(dirname(abs), parent);
  if ([...seen, abs].includes(parentFile)) {
    issues.push(source.issue(['extends'], `circular extends: ${[...seen, abs, parentFile].join(' -> ')}`));
    return [layer];
  }
  const base = await readChain(parentFile, issues, [...seen, abs]);
  if ('notARecipe' in base) {
    issues.push(source.issue(['extends'], `cannot extend ${parent}: ${base.notARecipe}; its content is not shown`));
    return [layer];
  }
  if (!base.length) issues.push(source.issue(['extends'], `cannot extend ${parent}`));
  return [...base, layer];
}

/** The nearest layer (child first) that sets `key`. */
function lastSetting(layers: Layer[], key: string): Layer | undefined {
  return [...layers].reverse().find((l) => l.data[key] !== undefined);
}

export async function loadRecipe(file: string, opts: LoadOptions = {}): Promise<Plan> {
  const issues: RecipeIssue[] = [];
  const chain = await readChain(file, issues);
  const layers = 'notARecipe' in chain ? [] : chain;
  if (!layers.length) throw new RecipeError(issues);
  const main = layers[layers.length - 1]!;

  const { vars, raw: rawVars, secretVars, origin, uses, warnings: varWarnings, checkValues, invalid, generated } = readVariables(layers, opts, issues);
  for (const name of secretVars) registerSecret(vars[name]);
  const firstFieldIssue = issues.length;
  const flow = new VariableFlow({ secretVars, uses, origin, invalid });

  const resolveIn = (layer: Layer, path: KeyPath, value: unknown, secretKeys: readonly string[] | 'any' = []): unknown => {
    const found: { path: KeyPath; message: string }[] = [];
    const out = interpolate(value, vars, found, [], flow.onRef(layer.source, path, secretKeys));
    for (const f of found) issues.push(layer.source.issue([...path, ...f.path], f.message));
    return out;
  };

  const nameLayer = lastSetting(layers, 'name');
  const name = nameLayer ? String(nameLayer.data.name) : '';
  if (!nameLayer) issues.push(main.source.issue([], 'missing "name"'));
  const outputLayer = lastSetting(layers, 'output');
  const output = outputLayer ? String(resolveIn(outputLayer, ['output'], outputLayer.data.output)) : name;
  // The output is a file name in --out: no path, so no variable can lead it elsewhere.
  const outputOk = fileNameValue.safeParse(output);
  if (outputLayer && !outputOk.success) issues.push(outputLayer.source.issue(['output'], `output ${JSON.stringify(output)}: ${outputOk.error.issues[0]!.message}`));

  // apt_proxy: into the fetching commands' environment only; a URL with credentials is a secret.
  const proxyLayer = lastSetting(layers, 'apt_proxy');
  const aptProxy = proxyLayer ? String(resolveIn(proxyLayer, ['apt_proxy'], proxyLayer.data.apt_proxy, 'any')) : '';
  const proxyProblem = aptProxy ? proxyUrlProblem(aptProxy) : undefined;
  registerProxySecrets(aptProxy);
  if (proxyProblem) issues.push(proxyLayer!.source.issue(['apt_proxy'], `the proxy URL ${proxyProblem}`));

  // launch: sections merge key by key (the child wins), then validate once.
  let launchInput: Record<string, unknown> = {};
  let launchLayer = main;
  for (const layer of layers) {
    const raw = layer.data.launch;
    if (raw === undefined) continue;
    if (!raw || typeof raw !== 'object' || Array.isArray(raw)) issues.push(layer.source.issue(['launch'], 'launch must be a mapping'));
    else {
      launchInput = { ...launchInput, ...(resolveIn(layer, ['launch'], raw) as Record<string, unknown>) };
      launchLayer = layer;
    }
  }
  const parsedLaunch = launchSchema.safeParse(launchInput);
  if (!parsedLaunch.success) issues.push(...zodIssues(launchLayer.source, ['launch'], parsedLaunch.error, launchSchema));
  const launch = parsedLaunch.success ? parsedLaunch.data : launchSchema.parse({});
  const warnings = [...varWarnings, ...launch.networks.flatMap(networkWarnings)];

  const testLayer = lastSetting(layers, 'test');
  const parsedTest = testSchema.safeParse(testLayer ? resolveIn(testLayer, ['test'], testLayer.data.test, ['password']) : {});
  if (!parsedTest.success) issues.push(...zodIssues(testLayer!.source, ['test'], parsedTest.error, testSchema));
  const test = parsedTest.success ? parsedTest.data : testSchema.parse({});

  const stepsLayer = lastSetting(layers, 'steps');
  const steps: PlannedStep[] = [];
  if (!stepsLayer || !Array.isArray(stepsLayer.data.steps) || !stepsLayer.data.steps.length) {
    issues.push(main.source.issue(['steps'], 'a recipe needs at least one step'));
  } else {
    stepsLayer.data.steps.forEach((raw, index) => {
      const planned = planStep(stepsLayer.source, ['steps', index], index, raw, (p, v) => resolveIn(stepsLayer, p, v, 'any'), issues);
      if (planned) steps.push(planned);
    });
  }
  // The order is checked only when every step could be read: a step missing from the list would make others look misplaced.
  if (steps.length === (stepsLayer?.data.steps as unknown[] | undefined)?.length) for (const p of orderProblems(steps)) issues.push(steps[p.at]!.source.issue([...steps[p.at]!.at, 'step'], p.message));
  // The guest's interfaces file and the launch line must name the same device.
  const netdev = vars.netdev;
  const writesInterfaces = steps.some((st) => traitsOf(st).writes?.(st.options).includes('/etc/network/interfaces'));
  const first = launch.networks[0];
  if (writesInterfaces && typeof netdev === 'string' && first && first.device !== netdev) {
    issues.push(launchLayer.source.issue(['launch', 'networks', 0, 'device'], `the launch line creates ${first.device} but the interfaces template configures netdev=${netdev}; they must be the same device`));
  }
  const rootfs = opts.variant ?? (lastSetting(layers, 'rootfs')?.data.rootfs as 'image' | 'hostfs' | undefined) ?? 'image';
  const owner = opts.owner ?? (lastSetting(layers, 'hostfs_owner')?.data.hostfs_owner as string | undefined);
  if (rootfs === 'hostfs') {
    toHostfsSteps(steps);
    if (launch.hostfs) issues.push(launchLayer.source.issue(['launch', 'hostfs'], 'a hostfs-root build boots its own tree with hostfs=; a second hostfs share is not possible'));
  }
  checkStepInputs(flow, steps, vars, issues);
  flow.annotate(issues, firstFieldIssue);
  issues.push(...flow.secretLeaks());
  const variants = planVariants(layers, rawVars, issues, { secretVars, uses, origin }, checkValues);
  if (rootfs === 'hostfs' && variants.length) issues.push(main.source.issue(['variants'], 'COW variants need a disk image; the hostfs variant is a directory'));
  for (const v of variants) for (const name of secretVars) registerSecret(v.vars[name]);
  const locked = planLockdown(layers, steps, launch, rootfs, issues);
  if (lastSetting(layers, 'tune')?.data.tune === 'uml') insertTuneStep(steps);
  const afterImage = planHooks(opts.hooks ?? [], steps, main, issues);
  const epoch = planReproducible(layers, main, steps, opts.env?.SOURCE_DATE_EPOCH, issues, warnings);
  const reproducible = epoch === undefined ? undefined : { epoch, uuid: derivedUuid(`umlbuild:${name}:${epoch}`) };
  // A generated password would make each reproducible build differ; one derived from the recipe would be known to all who have it.
  if (reproducible)
    for (const g of generated.keys())
      issues.push({
        file: 'reproducible build',
        path: g,
        message: `a reproducible build (SOURCE_DATE_EPOCH) needs a password given: --set ${g}=... or UMLBUILD_VAR_${g.toUpperCase()} (umlbuild generates one only for builds that may differ)`,
      });
  if (issues.length) throw new RecipeError(issues);
  return {
    file: main.source.file,
    dir: dirname(main.source.file),
    name,
    description: lastSetting(layers, 'description')?.data.description as string | undefined,
    output,
    vars,
    secretVars,
    generated,
    givenSecrets: new Set([...origin.keys()].filter((n) => secretVars.has(n) && !generated.has(n))),
    launch: locked,
    umid: launch.umid ?? name,
    steps,
    rootfs,
    owner,
    variants,
    warnings,
    reproducible,
    afterImage,
    ...(aptProxy && !proxyProblem ? { aptProxy } : {}),
    annotate: (found) => flow.annotate(found),
    test: rootfs === 'hostfs' ? { ...test, root: 'hostfs' } : test,
  };
}

/**
 * The hostfs-root variant: the hostfs directory step instead of sparse-disk,
 * mkfs, mount and unmount, or in place of a directory-first recipe's
 * directory step (its pack goes).
 */
function toHostfsSteps(steps: PlannedStep[]): void {
  const imageOnly = (s: PlannedStep) => Boolean(traitsOf(s).imageOnly);
  const step = findStep('directory')!;
  const options = step.schema.parse({ hostfs: true });
  const tree = steps.findIndex((s) => s.kind === 'directory');
  if (tree >= 0) {
    steps[tree] = { ...steps[tree]!, options, title: step.title(options) };
    steps.splice(0, steps.length, ...steps.filter((s) => !imageOnly(s) && !traitsOf(s).output));
    return;
  }
  const at = steps.findIndex(imageOnly);
  if (at < 0) return;
  const first = steps[at]!;
  const dirStep: PlannedStep = { ...first, kind: step.kind, step, options, title: step.title(options) };
  const kept = steps.filter((s) => !imageOnly(s));
  kept.splice(steps.slice(0, at).filter((s) => !imageOnly(s)).length, 0, dirStep);
  steps.splice(0, steps.length, ...kept);
}

/**
 * `reproducible: true` or SOURCE_DATE_EPOCH: a reproducible step just before
 * `pack`. Only a directory-first build can be reproducible (a mounted image
 * keeps a journal, mount times and the allocation order of the build).
 */
function planReproducible(layers: Layer[], main: Layer, steps: PlannedStep[], sde: string | undefined, issues: RecipeIssue[], warnings: string[]): number | undefined {
  const layer = lastSetting(layers, 'reproducible');
  const setting = layer?.data.reproducible as boolean | undefined;
  if (setting === false) return undefined;
  let epoch: number | undefined;
  if (sde !== undefined && sde !== '') {
    if (!/^\d+$/.test(sde) || Number(sde) <= 0) issues.push(main.source.issue([], `SOURCE_DATE_EPOCH must be a positive number of seconds since 1970, not "${sde}"`));
    else epoch = Number(sde);
  }
  if (setting !== true && epoch === undefined) return undefined;
  const packed = outputOf(steps);
  const at = packed ? steps.indexOf(packed.ps) : -1;
  if (at < 0 || firstProviding(steps, 'mount') >= 0) {
    if (setting) issues.push(layer!.source.issue(['reproducible'], 'reproducible images need a directory-first recipe (a directory step and a pack step): a mounted image keeps its journal, mount times and allocation order'));
    else warnings.push('SOURCE_DATE_EPOCH is set, but only directory-first recipes (directory + pack) are built reproducibly; this one mounts an image');
    return undefined;
  }
  epoch ??= DEFAULT_EPOCH;
  insertStep(steps, at, 'reproducible', findStep('reproducible')!.schema.parse({ epoch }));
  return epoch;
}

/**
 * --hook STAGE=SCRIPT: a hook step after the bootstrap step (after-bootstrap)
 * or before pack/unmount (before-pack); after-image hooks run after the
 * outputs are committed (returned for the runner).
 */
function planHooks(hooks: NonNullable<LoadOptions['hooks']>, steps: PlannedStep[], main: Layer, issues: RecipeIssue[]): { script: string; args: string[] }[] {
  const step = findStep('hook')!;
  const after: { script: string; args: string[] }[] = [];
  for (const h of hooks) {
    const script = resolve(h.script);
    if (h.stage === 'after-image') {
      after.push({ script, args: h.args ?? [] });
      continue;
    }
    const at = h.stage === 'after-bootstrap' ? firstProviding(steps, 'system') + 1 : firstReleasing(steps, 'root');
    if (at <= 0 && h.stage === 'after-bootstrap') {
      issues.push(main.source.issue([], `--hook after-bootstrap=${h.script}: the recipe has no debootstrap, rootfs-tarball or rootfs-dir step`));
      continue;
    }
    insertStep(steps, at, 'hook', step.schema.parse({ script, args: h.args ?? [], stage: h.stage }));
  }
  return after;
}

/**
 * `lockdown: true`: a lockdown step before unmount/pack (no module loading
 * after boot), hostfs confined to NO_HOSTFS unless the launch declares a
 * share, and bpfflash refused.
 */
function planLockdown(layers: Layer[], steps: PlannedStep[], launch: LaunchConfig, rootfs: string, issues: RecipeIssue[]): LaunchConfig {
  const layer = lastSetting(layers, 'lockdown');
  if (layer?.data.lockdown !== true) return launch;
  if (rootfs === 'hostfs') issues.push(layer.source.issue(['lockdown'], 'lockdown cannot confine hostfs on a hostfs-root build (the root is a host directory)'));
  launch.networks.forEach((n, i) => {
    if ((n as Record<string, unknown>).bpfflash === 1) issues.push(layer.source.issue(['launch', 'networks', i, 'bpfflash'], 'lockdown: bpfflash lets the guest load BPF code into the host kernel'));
  });
  insertStep(steps, firstReleasing(steps, 'root'), 'lockdown', {});
  return launch.hostfs ? launch : { ...launch, args: [...launch.args, `hostfs=${NO_HOSTFS}`] };
}

/**
 * Insert a step of `kind` at `pos` (the end when -1): steps umlbuild adds are
 * reported, if they have problems, at the recipe step they were put before.
 */
function insertStep(steps: PlannedStep[], pos: number, kind: string, options: unknown): void {
  const step = findStep(kind)!;
  const at = pos < 0 ? steps.length : pos;
  const neighbour = steps[at] ?? steps[steps.length - 1];
  if (!neighbour) return;
  steps.splice(at, 0, { ...neighbour, kind, step, options, title: step.title(options) });
}

/** `tune: uml` adds a tune-uml step just before the root tree is finished (unmount or pack; or at the end), unless the recipe has one. */
function insertTuneStep(steps: PlannedStep[]): void {
  const tune = findStep('tune-uml')!;
  if (steps.some((s) => s.step === tune)) return;
  insertStep(steps, firstReleasing(steps, 'root'), tune.kind, tune.schema.parse({}));
}
