/**
 * Run a plan: verify all steps, run them in order under listr2, always
 * unwind the teardown stack, and commit the outputs only on success.
 */
import { Listr } from 'listr2';
import { existsSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { EXIT, InterruptedError, RecipeError, StepError, UserError } from '../errors.js';
import { checkBuiltKernel } from './kernel-check.js';
import { cowChildren } from '../uml/cow.js';
import { BootstrapCache, defaultCacheDir } from '../cache/store.js';
import { ImageCache } from '../cache/images.js';
import { type FastBmap, fastTasks, type FastLookup, lookupBase, splitForFastPath, stepTask } from './fast-path.js';
import { buildVariant, recordVariants, type VariantOutput } from './variants.js';
import { DirectCows } from './variant-direct.js';
import { redact } from '../host/secrets.js';
import { renderLaunchScript } from '../templates/launch-script.js';
import { buildManifest, type Checksum, imageIntegrity, type StepTiming } from '../output/manifest.js';
import { sha256Text } from '../host/hashing.js';
import type { Plan } from '../recipe/load.js';
import { createContext } from './context.js';
import { commitOutputs, outputPaths, partialPaths, prepareOutputDir, removePartials, stageKernelFiles, type KernelOutput, type OutputPaths } from './outputs.js';
import { rendererOptions, type RendererName } from './renderer.js';
import { TaskLogs } from './task-log.js';
import { Teardown, type TeardownFailure } from '../host/teardown.js';
import { noSpaceHint } from './no-space.js';
import { checkImageSizes } from './size-limit.js';
import { emitter, exitCodeOf, messageOf, validationEvents, type BuildEvent, type EventListener } from './events.js';
import { runHook } from '../steps/hook.js';
import { exec } from '../host/exec.js';
import { cleanupStale, Journal } from '../host/journal.js';
import { acquireLock } from '../host/lock-file.js';
import { verifyPlan } from './verify.js';
import { VERSION } from '../version.js';
import { outputOf } from '../steps/select.js';
import { checkOnFailure, failureShell, keepForInspection, type OnFailure } from './on-failure.js';

export interface BuildOptions {
  outDir: string;
  renderer?: RendererName;
  signal?: AbortSignal;
  /** Report teardown failures as warnings instead of failing the build. */
  keepGoingOnTeardown?: boolean;
  /** The bootstrap cache directory; false turns the cache off. */
  cacheDir?: string | false;
  /** Rebuild cache entries instead of using them. */
  refreshCache?: boolean;
  /** Build directory-first recipes as a cached base image plus debugfs edits (default: on when caching). */
  fast?: boolean;
  /** The image's integrity record in the manifest: a block map beside it (default, true), the sha256 of the whole image, or none (false). */
  checksum?: Checksum | true;
  /** Replace an image that has COW children (breaking them). */
  replaceBase?: boolean;
  /** Progress events (redacted); the CLI prints them for --log-format ndjson. */
  onEvent?: EventListener;
  /** Where teardown notes and warnings go (default: stderr). */
  warn?: (line: string) => void;
  /** When a step fails: tear down (default), keep the tree/image/mounts for `umlbuild cleanup`, or open a shell in it first (runner/on-failure). */
  onFailure?: OnFailure;
}

export interface BuildResult {
  outputs: OutputPaths;
  variants: VariantOutput[];
  timings: StepTiming[];
  seconds: number;
}

/** What the image file is called: the step that writes the output (pack to tar or squashfs) names its extension. */
function imageExtension(plan: Plan): string {
  return outputOf(plan.steps)?.extension ?? '.img';
}

type Emit = (e: BuildEvent) => void;

/** A kernel's config that lacks what the launch configuration needs: reported as the recipe error it is, not as the step's failure. */
class KernelMismatch extends Error {
  constructor(readonly error: RecipeError) {
    super(error.message);
  }
}

/**
 * Build a plan. With `onEvent`, every outcome is an event and the last one is
 * exactly one `build-finished` or `build-failed` (with the exit code), whatever
 * failed: the plan, the host, a step, a variant, a hook or an interrupt.
 */
export async function build(plan: Plan, opts: BuildOptions): Promise<BuildResult> {
  const emit = emitter(opts.onEvent);
  const text = opts.warn ?? ((l: string) => process.stderr.write(`${redact(l)}\n`));
  const warn = (l: string) => {
    text(l);
    emit({ type: 'warning', message: l });
  };
  try {
    const r = await buildChecked(plan, opts, emit, warn, text);
    emit({ type: 'build-finished', image: plan.rootfs === 'hostfs' ? r.outputs.root : r.outputs.image, script: r.outputs.script, manifest: r.outputs.manifest, seconds: r.seconds });
    return r;
  } catch (e) {
    const error = opts.signal?.aborted ? opts.signal.reason : e;
    for (const v of validationEvents(error)) emit(v);
    emit({ type: 'build-failed', error: messageOf(error), exitCode: exitCodeOf(error) });
    throw error;
  }
}

async function buildChecked(plan: Plan, opts: BuildOptions, emit: Emit, warn: (l: string) => void, text: (l: string) => void): Promise<BuildResult> {
  checkOnFailure(opts.onFailure ?? 'cleanup');
  // A warm build's base image, looked up first: the steps it replaces verify without asking the mirror.
  const looked = await lookupFast(plan, opts);
  await verifyPlan(plan, undefined, { cached: looked?.hit ? new Set(looked.split.base) : undefined });
  await checkImageSizes(plan, opts.outDir);
  const started = Date.now();
  const final = outputPaths(opts.outDir, plan.output, imageExtension(plan));
  const partial = partialPaths(final);
  // What killed builds left (their journals), first: never what another build holds now.
  const stale = await cleanupStale(undefined, { kept: false });
  for (const k of stale.kept) warn(`note: ${k}`);
  for (const a of stale.actions) warn(`cleanup: ${a}`);
  for (const e of stale.errors) warn(`cleanup: ${e}`);
  await prepareOutputDir(final);
  const lockFile = join(dirname(final.image), `.${basename(final.image)}.lock`);
  const lock = await acquireLock(lockFile, { wait: false });
  if ('heldBy' in lock) throw new UserError(`another umlbuild (pid ${lock.heldBy}) is building ${final.image}: wait for it, or build into another --out`, EXIT.buildFailed);
  const journal = new Journal();
  const lockId = journal.add({ kind: 'lock', path: lockFile });
  try {
    return await buildLocked(plan, opts, final, partial, { emit, warn, text }, started, looked);
  } finally {
    await lock.release();
    journal.forget(lockId);
  }
}

function cacheRootOf(opts: BuildOptions): string | undefined {
  return opts.cacheDir === false ? undefined : (opts.cacheDir ?? defaultCacheDir());
}

/** The fast path's base-image lookup, or undefined (no fast path; or it failed: verifying the plan says why, and the build looks again). */
async function lookupFast(plan: Plan, opts: BuildOptions): Promise<FastLookup | undefined> {
  const cacheRoot = cacheRootOf(opts);
  const split = cacheRoot && opts.fast !== false ? splitForFastPath(plan) : 'no cache';
  if (typeof split === 'string') return undefined;
  return lookupBase(plan, split, { exec: (cmd, args, o) => exec(cmd, args, { signal: opts.signal, ...o }) }, new ImageCache(cacheRoot!), opts.refreshCache).catch(() => undefined);
}

async function buildLocked(
  plan: Plan,
  opts: BuildOptions,
  final: OutputPaths,
  partial: OutputPaths,
  { emit, warn, text }: { emit: Emit; warn: (l: string) => void; text: (l: string) => void },
  started: number,
  looked?: FastLookup,
): Promise<BuildResult> {
  const children = plan.rootfs === 'image' && existsSync(final.image) ? await cowChildren(final.image, dirname(final.image)) : [];
  if (children.length && !opts.replaceBase) {
    throw new UserError(
      `refusing to replace ${final.image}: COW files depend on it (${children.map((c) => basename(c)).join(', ')}) and would stop booting ("mtime mismatch"). Merge or remove them first, or pass --replace-base`,
      EXIT.invalid,
    );
  }
  const signal = opts.signal ?? new AbortController().signal;
  const journal = new Journal();
  const teardown = new Teardown(undefined, journal);
  teardown.warn = warn;
  const onTeardown = (label: string, e?: unknown) => emit(e === undefined ? { type: 'teardown', label, ok: true } : { type: 'teardown', label, ok: false, error: messageOf(e) });
  teardown.onResult = onTeardown;
  // Registered first, released last: the partial outputs (on failure; success renames them).
  teardown.defer(`remove ${partial.image}`, () => removePartials(partial), { onlyOnFailure: true, resource: { kind: 'file', path: partial.image } });
  teardown.defer(`remove ${partial.root}`, () => removePartials(partial), { onlyOnFailure: true, resource: { kind: 'tree', path: partial.root } });
  const ctx = createContext(plan, partial.image, teardown, signal, partial.root);
  const cacheRoot = cacheRootOf(opts);
  if (cacheRoot) ctx.cache = new BootstrapCache(cacheRoot);
  ctx.refreshCache = opts.refreshCache;
  const timings: StepTiming[] = [];
  const split = cacheRoot && opts.fast !== false ? splitForFastPath(plan) : 'no cache';
  const fastBmap: FastBmap = { written: [] };
  const list = typeof split === 'string' ? plan.steps.map((ps) => stepTask(ps, ctx)) : await fastTasks(plan, split, ctx, new ImageCache(cacheRoot!), looked, fastBmap);

  emit({ type: 'build-started', recipe: plan.file, output: final.image, steps: list.length });
  // Lines logged outside every task (teardown after the run): events only, step index 0.
  const logs = new TaskLogs((line) => emit(line.startsWith('$ ') ? { type: 'command', index: 0, command: line.slice(2) } : { type: 'output', index: 0, line }));
  ctx.log = logs.log;
  let failedStep: string | undefined;
  const checkedKernels = new Set<string>();
  const tasks = new Listr(
    list.map((bt, position) => ({
      title: `[${position + 1}/${list.length}] ${bt.title}`,
      task: async (_: unknown, task: { output: string }) => {
        if (signal.aborted) throw signal.reason;
        const index = position + 1;
        const taskLog = logs.open((line: string) => {
          task.output = redact(line);
          if (line.startsWith('$ ')) emit({ type: 'command', index, command: line.slice(2) });
          else emit({ type: 'output', index, line });
        });
        ctx.log = taskLog.log;
        emit({ type: 'step-started', index, total: list.length, kind: bt.kind, title: bt.title, where: bt.where });
        const t0 = Date.now();
        try {
          await bt.run();
          // The kernel a step built (or a cached base image recorded), checked against what the launch configuration needs of it.
          await checkBuiltKernel(plan, ctx.facts.kernel, checkedKernels, bt.where ?? bt.title, warn).catch((e) => {
            throw e instanceof RecipeError ? new KernelMismatch(e) : e;
          });
          emit({ type: 'step-finished', index, kind: bt.kind, title: bt.title, seconds: (Date.now() - t0) / 1000 });
        } catch (e) {
          const err = signal.aborted ? signal.reason : e instanceof KernelMismatch ? e.error : new StepError(bt.where ?? bt.title, e, await noSpaceHint(e, plan, partial.image, ctx.rootfs, Boolean(ctx.mounted)));
          emit({ type: 'step-failed', index, kind: bt.kind, title: bt.title, seconds: (Date.now() - t0) / 1000, error: err instanceof Error ? err.message : String(err) });
          failedStep = `step ${index}/${list.length} (${bt.title}) failed`;
          throw err;
        } finally {
          taskLog.close();
          ctx.log = logs.log;
          timings.push({ step: bt.kind, title: bt.title, seconds: (Date.now() - t0) / 1000 });
        }
      },
    })),
    { ...rendererOptions(opts.renderer ?? 'auto'), exitOnError: true, registerSignalListeners: false, collectErrors: false },
  );

  let error: unknown;
  try {
    await tasks.run();
    await ctx.collectFacts();
  } catch (e) {
    error = signal.aborted ? signal.reason : e;
  }
  // A failed step (not an interrupt): look inside before the teardown, or leave it all for `umlbuild cleanup`.
  const onFailure = error !== undefined && failedStep && !signal.aborted ? (opts.onFailure ?? 'cleanup') : 'cleanup';
  if (onFailure === 'shell') {
    await failureShell(ctx.rootfs, teardown, failedStep!, warn, signal).catch((e) => warn(`--on-failure shell: ${e instanceof Error ? e.message : String(e)}`));
    if (signal.aborted && signal.reason instanceof InterruptedError && signal.reason.signal === 'SIGTERM') error = signal.reason;
  }
  let failures: TeardownFailure[];
  if (onFailure === 'keep') {
    const kept = await keepForInspection(teardown, partial.image, failedStep!);
    for (const l of kept.lines) warn(l);
    failures = kept.failures;
  } else failures = await teardown.unwind(error !== undefined);
  for (const f of failures) warn(`teardown: could not ${f.label}: ${f.error instanceof Error ? f.error.message : String(f.error)}`);
  if (!error && failures.length && !opts.keepGoingOnTeardown) {
    error = new UserError(`the build finished but ${failures.length} teardown action(s) failed (see above); --keep-going-on-teardown accepts that`);
  }
  let kernel: KernelOutput | undefined;
  if (!error) {
    try {
      const hostfs = plan.rootfs === 'hostfs';
      if (hostfs && ctx.rootfs !== ctx.rootDir) throw new UserError('the hostfs build made no root directory: it needs a directory step');
      if (!hostfs && !ctx.imageCreated) throw new UserError('the recipe made no image: it needs a sparse-disk step (or directory and pack)');
      if (hostfs && plan.owner) {
        // Everything in the tree then belongs to the user who runs UML, and looks owned by that uid inside.
        await ctx.exec('chown', ['-R', '--no-dereference', plan.owner.includes(':') ? plan.owner : `${plan.owner}:`, partial.root]);
      }
      // The recipe's own kernel travels with the image: copied from its cache entry beside it, renamed with the rest.
      kernel = ctx.facts.kernel ? await stageKernelFiles(ctx.facts.kernel, partial, final) : undefined;
      const script = await renderLaunchScript({ name: plan.name, image: final.image, umid: plan.umid, launch: plan.launch, hostfsRoot: hostfs ? final.root : undefined, kernel: kernel?.file });
      const t0 = Date.now();
      const integrity = hostfs ? {} : await imageIntegrity(partial.image, opts.checksum, typeof split === 'string' ? undefined : fastBmap, basename(final.image));
      if (integrity.note) logs.log(`integrity record: ${integrity.note} in ${((Date.now() - t0) / 1000).toFixed(3)} s`);
      const manifest = await buildManifest({
        plan,
        imageFile: hostfs ? undefined : partial.image,
        imageName: basename(hostfs ? final.root : final.image),
        scriptName: basename(final.script),
        scriptSha256: sha256Text(script),
        facts: ctx.facts,
        timings,
        version: VERSION,
        integrity: { sha256: integrity.sha256, bmap: integrity.bmap && { file: basename(final.bmap), sha256: integrity.bmap.sha256 } },
        kernel,
      });
      await commitOutputs(partial, final, script, manifest, hostfs, integrity.bmap?.text, kernel);
    } catch (e) {
      error = e;
    }
  }
  if (error && onFailure !== 'keep') await removePartials(partial);
  journal.close();
  if (error) throw error;
  const variants: VariantOutput[] = [];
  if (plan.variants.length) {
    // One copy of the base for all the variants written directly (runner/variant-direct.ts).
    const direct = new DirectCows(final.image, signal);
    await new Listr(
      plan.variants.map((v, i) => ({
        title: `[variant ${i + 1}/${plan.variants.length}] ${v.name}: COW over ${basename(final.image)}`,
        task: async (_: unknown, task: { output: string }) => {
          const taskLog = logs.open((l) => {
            task.output = redact(l);
            emit(l.startsWith('$ ') ? { type: 'command', index: 0, command: l.slice(2) } : { type: 'output', index: 0, line: l });
          });
          emit({ type: 'variant-started', name: v.name, index: i + 1, total: plan.variants.length });
          const t0 = Date.now();
          try {
            const made = await buildVariant(plan, v, final.image, dirname(final.image), taskLog.log, signal, onTeardown, direct, kernel && { files: kernel, release: ctx.facts.kernel?.release });
            variants.push(made);
            emit({ type: 'variant-finished', name: v.name, cow: made.cow, script: made.script, manifest: made.manifest, allocated: made.allocated, seconds: made.seconds });
          } catch (e) {
            const err = signal.aborted ? signal.reason : e;
            emit({ type: 'variant-failed', name: v.name, seconds: (Date.now() - t0) / 1000, error: messageOf(err) });
            throw err;
          } finally {
            taskLog.close();
          }
        },
      })),
      { ...rendererOptions(opts.renderer ?? 'auto'), exitOnError: true, registerSignalListeners: false },
    )
      .run()
      .finally(() => direct.close());
    await recordVariants(final.manifest, variants);
  }
  for (const h of plan.afterImage) {
    const t0 = Date.now();
    // Its output: text on stderr as before, and output events (outside every step: index 0).
    const log = (l: string) => {
      text(`hook after-image ${basename(h.script)}: ${l}`);
      emit(l.startsWith('$ ') ? { type: 'command', index: 0, command: l.slice(2) } : { type: 'output', index: 0, line: l });
    };
    try {
      await runHook({ exec: (cmd, args, o) => exec(cmd, args, { signal, onLine: log, ...o }), log, journal }, h.script, h.args, { image: final.image, outDir: dirname(final.image), recipe: plan.file, stage: 'after-image', vars: plan.vars });
    } catch (e) {
      const err = signal.aborted ? signal.reason : new StepError(`hook after-image ${h.script}`, e);
      emit({ type: 'hook-failed', stage: 'after-image', script: h.script, seconds: (Date.now() - t0) / 1000, error: messageOf(err) });
      throw err;
    }
    emit({ type: 'hook-finished', stage: 'after-image', script: h.script, seconds: (Date.now() - t0) / 1000 });
    timings.push({ step: 'hook', title: `Hook after-image ${h.script}`, seconds: (Date.now() - t0) / 1000 });
  }
  const seconds = (Date.now() - started) / 1000;
  return { outputs: final, variants, timings, seconds };
}
