/**
 * Selecting planned steps by trait (steps/traits.ts), and the order check the
 * loader runs: the one place outside a step's own file that knows what steps
 * do, and it knows it only through their traits.
 */
import type { BuildState, StepTraits } from './traits.js';
import { STEPS } from './index.js';
import type { AnyStep } from './types.js';

/** A step of a plan as far as traits go. */
export interface TraitHolder {
  step: AnyStep;
  options: unknown;
}

export function traitsOf(s: TraitHolder): StepTraits<unknown> {
  return s.step.traits ?? {};
}

/** Index of the first step that provides (or releases) `state`, -1 if none. */
export function firstProviding(steps: readonly TraitHolder[], state: BuildState): number {
  return steps.findIndex((s) => traitsOf(s).provides?.includes(state));
}
export function firstReleasing(steps: readonly TraitHolder[], state: BuildState): number {
  return steps.findIndex((s) => traitsOf(s).releases?.includes(state));
}

/** The step that writes the output image (pack), with its filesystem and extension. */
export function outputOf<T extends TraitHolder>(steps: readonly T[]): { ps: T; fs: string; extension: string } | undefined {
  for (const ps of steps) {
    const out = traitsOf(ps).output?.(ps.options);
    if (out) return { ps, ...out };
  }
  return undefined;
}

/** Steps that create an image file of a size the recipe gives. */
export function sizedSteps<T extends TraitHolder>(steps: readonly T[]): { ps: T; size: string | number }[] {
  return steps.flatMap((ps) => {
    const size = traitsOf(ps).size?.(ps.options);
    return size === undefined ? [] : [{ ps, size }];
  });
}

/** Visible step kinds that provide `state`, for messages. */
function providers(state: BuildState): string {
  const kinds = STEPS.filter((s) => !s.hidden && s.traits?.provides?.includes(state)).map((s) => s.kind);
  return kinds.join(' or ');
}

const STATE_NAME: Record<BuildState, string> = {
  image: 'an image file',
  filesystem: 'a filesystem on the image',
  root: 'a root tree to write into',
  mount: 'a mounted image',
  system: 'a system in the root',
};

/**
 * Problems with the order of `steps` (positions into the list): a step that
 * needs state no earlier step made, or that makes a root or mount while one
 * exists. Checked when the recipe is loaded, so a wrong order is a recipe
 * error (exit 2), not a failure halfway through a build.
 */
export function orderProblems(steps: readonly TraitHolder[]): { at: number; message: string }[] {
  const held = new Map<BuildState, number>();
  const out: { at: number; message: string }[] = [];
  steps.forEach((s, at) => {
    const t = traitsOf(s);
    const missing = (t.requires ?? []).filter((r) => !held.has(r));
    for (const r of missing) out.push({ at, message: `a ${s.step.kind} step needs ${STATE_NAME[r]}: put a ${providers(r)} step before it` });
    for (const p of t.provides ?? []) {
      const before = held.get(p);
      if ((p === 'root' || p === 'mount') && before !== undefined) out.push({ at, message: `a ${s.step.kind} step makes ${STATE_NAME[p]}, but step ${before + 1} (${steps[before]!.step.kind}) already made one` });
    }
    for (const r of t.releases ?? []) held.delete(r);
    for (const p of t.provides ?? []) if (!held.has(p)) held.set(p, at);
  });
  return out;
}
