/**
 * Warm builds without mkfs. A directory-first recipe whose last steps only
 * edit files (template, password, overlay) is built as a base image (every
 * other step, packed) plus those edits, applied to the packed image with
 * debugfs. The base image is cached under a key of everything that made it
 * (directory inputs by their contents: cache/tree-digest);
 * a warm build copies it (cp --sparse) and applies the edits: no bootstrap,
 * no tree, no mkfs, no mount. Cold and warm builds take the same way, so
 * they give the same image.
 *
 * The edit steps move after the steps that follow them in the recipe; that
 * is allowed only past steps whose traits say they leave edits alone
 * (leavesEdits: modules, tune-uml, reproducible, pack). A `run` step after an edit keeps the ordinary way.
 */
import type { ImageCache, ImageEntry } from '../cache/images.js';
import { cacheKey } from '../cache/store.js';
import { applyImageEdits, imageTarget } from '../edits/image.js';
import { e2tool } from '../host/debugfs.js';
import { type Bmap, bmapOf } from '../host/bmap.js';
import type { ByteRange } from '../host/e2undo.js';
import { NotEditable } from '../edits/model.js';
import type { Plan } from '../recipe/load.js';
import type { PlannedStep } from '../recipe/plan-step.js';
import { editsFiles, type StepContext } from '../steps/types.js';
import { editContext } from '../steps/file-edits.js';
import { UserError } from '../errors.js';
import { VERSION } from '../version.js';
import { createHash } from 'node:crypto';
import { lstat, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { BuiltKernel } from '../model/kernel.js';
import { firstProviding, outputOf, traitsOf } from '../steps/select.js';

export interface FastSplit {
  base: PlannedStep[];
  edits: PlannedStep[];
}

export interface BuildTask {
  title: string;
  kind: string;
  /** Where a failure is reported: the recipe step, when there is one. */
  where?: string;
  run(): Promise<void>;
}

/** The base and edit steps of a plan, or why it cannot take the fast way. */
export function splitForFastPath(plan: Plan): FastSplit | string {
  if (plan.rootfs !== 'image') return 'a hostfs build makes a directory';
  const packed = outputOf(plan.steps);
  if (!packed?.fs.startsWith('ext')) return 'the recipe does not pack an ext image';
  if (firstProviding(plan.steps, 'mount') >= 0) return 'the recipe mounts an image';
  const first = plan.steps.findIndex((s) => editsFiles(s.step));
  if (first < 0) return 'the recipe has no file-edit steps (template, password, overlay)';
  const blocker = plan.steps.slice(first).find((s) => !editsFiles(s.step) && !traitsOf(s).leavesEdits);
  if (blocker) return `steps[${blocker.index}] ${blocker.kind} comes after a file edit and may depend on it`;
  for (const ps of plan.steps) {
    const why = traitsOf(ps).fastPathBlocker?.(ps.options);
    if (why) return `steps[${ps.index}] ${ps.kind}: ${why}`;
  }
  return { base: plan.steps.filter((s) => !editsFiles(s.step)), edits: plan.steps.filter((s) => editsFiles(s.step)) };
}

export function where(ps: PlannedStep): string {
  return `steps[${ps.index}] ${ps.kind} (${ps.file}:${ps.line ?? '?'})`;
}

export function stepTask(ps: PlannedStep, ctx: StepContext): BuildTask {
  return { title: ps.title, kind: ps.kind, where: where(ps), run: () => ps.step.run(ps.options, ctx) };
}

/** What went into the base image besides the step options: resolved mirror, tool versions, modules, scripts. */
export async function baseInputs(plan: Plan, base: PlannedStep[], ctx: Pick<StepContext, 'exec'>, digestMemo?: string): Promise<Record<string, unknown>> {
  const cacheCtx = { recipeDir: plan.dir, exec: ctx.exec, digestMemo };
  // All at once: tool versions and tree digests do not depend on each other.
  const [arch, ...inputs] = await Promise.all([ctx.exec('dpkg', ['--print-architecture'], { onLine: () => undefined }).then((r) => r.stdout), ...base.map(async (ps) => (await traitsOf(ps).cacheInputs?.(ps.options, cacheCtx)) ?? null)]);
  return { umlbuild: VERSION, arch: arch.trim(), reproducible: plan.reproducible ?? null, steps: base.map((s) => [s.kind, keyedOptions(s.options, plan)]), inputs };
}

/**
 * Step options as they go into a cache key and its record (`cache ls`): a
 * secret variable's value (a run command may use one) only as its sha256, so
 * the key still changes with it but holds no password in clear.
 */
export function keyedOptions(options: unknown, plan: Pick<Plan, 'vars' | 'secretVars'>): unknown {
  const secrets = [...plan.secretVars]
    .map((n) => plan.vars[n])
    .filter((v): v is string => typeof v === 'string' && v !== '')
    .sort((a, b) => b.length - a.length);
  if (!secrets.length) return options;
  // Inside string values only: a short secret ("a", "true") must not reach into the structure around them.
  const any = new RegExp(secrets.map((v) => v.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|'), 'g');
  const hide = (text: string) => text.replace(any, (v) => `sha256:${createHash('sha256').update(v).digest('hex')}`);
  const walk = (x: unknown): unknown => (typeof x === 'string' ? hide(x) : Array.isArray(x) ? x.map(walk) : x && typeof x === 'object' ? Object.fromEntries(Object.entries(x).map(([k, v]) => [k, walk(v)])) : x);
  return walk(options);
}

export interface FastLookup {
  split: FastSplit;
  fields: Record<string, unknown>;
  key: string;
  hit?: ImageEntry;
}

/** The base image's cache key and entry (when there is one), for a plan that takes the fast path. */
export async function lookupBase(plan: Plan, split: FastSplit, ctx: Pick<StepContext, 'exec'>, images: ImageCache, refresh?: boolean): Promise<FastLookup> {
  const fields = await baseInputs(plan, split.base, ctx, images.digests);
  const key = `img-${cacheKey(fields)}`;
  const hit = refresh ? undefined : await images.lookup(key);
  // The kernel a base image's build made travels with every image built from it: gone from its cache, the base is a miss (its steps run again and make it).
  return { split, fields, key, hit: hit && (await kernelPresent(hit.facts.kernel)) ? hit : undefined };
}

/** Whether a kernel cache entry recorded in a base image's facts still holds its files (no kernel: true). */
export async function kernelPresent(k: BuiltKernel | undefined): Promise<boolean> {
  if (!k) return true;
  const isFile = (f: string) =>
    lstat(join(k.dir, f)).then(
      (st) => st.isFile(),
      () => false,
    );
  return (await isFile('linux')) && (await isFile('config'));
}

/** What a fast build knows of its image's block map: the base image's, and the byte ranges the edits wrote since. */
export interface FastBmap {
  base?: Bmap;
  written: ByteRange[];
}

/**
 * The build as base image (from the cache, or built and then cached) plus
 * debugfs edits; `looked` when the lookup was made already. `bmap` is
 * filled in for the manifest's block map.
 */
export async function fastTasks(plan: Plan, split: FastSplit, ctx: StepContext, images: ImageCache, looked?: FastLookup, bmap: FastBmap = { written: [] }): Promise<BuildTask[]> {
  const { fields, key, hit } = looked ?? (await lookupBase(plan, split, ctx, images, ctx.refreshCache));
  const tasks: BuildTask[] = [];
  if (hit) {
    tasks.push({
      title: `Copy the cached base image (${key})`,
      kind: 'base-image',
      run: async () => {
        ctx.log(`cache hit ${key} from ${hit.created}: no bootstrap, no mkfs`);
        ctx.imageCreated = true;
        await ctx.exec('cp', ['--sparse=always', images.image(key), ctx.image]);
        Object.assign(ctx.facts, hit.facts);
        bmap.base = hit.bmap;
        if (!bmap.base) {
          // An entry of an older version: its block map, made once and kept.
          bmap.base = await bmapOf(images.image(key));
          await images.addBmap(hit, bmap.base);
        }
      },
    });
  } else {
    tasks.push(...split.base.map((ps) => stepTask(ps, ctx)));
    tasks.push({
      title: 'Keep the base image in the cache',
      kind: 'cache-image',
      run: async () => {
        await ctx.collectFacts();
        const partial = await images.partial(key);
        const cleanup = ctx.teardown.defer(`remove ${partial}`, () => rm(partial, { force: true }), { resource: { kind: 'file', path: partial } });
        await ctx.exec('cp', ['--sparse=always', ctx.image, partial]);
        // Its block map, kept with it: this build's and every warm build's map start from it.
        bmap.base = await bmapOf(partial);
        await images.commit(key, partial, fields, ctx.facts, bmap.base);
        cleanup.drop();
        ctx.log(`cached the base image as ${key} in ${images.dir}`);
      },
    });
  }
  for (const ps of split.edits) {
    tasks.push({
      title: `${ps.title} (debugfs)`,
      kind: ps.kind,
      where: where(ps),
      run: async () => {
        try {
          const edits = await ps.step.edits!(ps.options, editContext(ctx, imageTarget(ctx.image)));
          await applyImageEdits(ctx.image, edits, { epoch: ctx.reproducible?.epoch, exec: { signal: ctx.signal }, journal: ctx.teardown.journal, written: bmap.written });
        } catch (e) {
          if (e instanceof NotEditable) throw new UserError(`${e.message}: this step cannot edit the packed image; build with --no-fast to run it on the tree`);
          throw e;
        }
      },
    });
  }
  tasks.push({ title: 'Check the edited image (e2fsck)', kind: 'fsck', run: async () => void (await e2tool('e2fsck', ['-fn', ctx.image], { signal: ctx.signal, onLine: (l) => ctx.log(l), onCommand: (l) => ctx.log(`$ ${l}`) })) });
  return tasks;
}
