/** One step of a recipe: its kind looked up, options interpolated and schema-checked. */
import type { RecipeIssue } from '../errors.js';
import type { PlanStepData } from '../model/plan.js';
import { redact } from '../host/secrets.js';
import { didYouMean } from '../model/names.js';
import { findStep, stepKinds } from '../steps/index.js';
import type { AnyStep } from '../steps/types.js';
import type { KeyPath, RecipeSource } from './source.js';
import { zodIssues } from './zod-issues.js';

/** A step of the plan: its data (model/plan.ts), its implementation, and where the recipe wrote it. */
export interface PlannedStep extends PlanStepData {
  step: AnyStep;
  /** Where the step stands in its recipe file, for locating later problems. */
  source: RecipeSource;
  at: KeyPath;
}

export function planStep(src: RecipeSource, at: KeyPath, index: number, raw: unknown, resolve: (path: KeyPath, value: unknown) => unknown, issues: RecipeIssue[], allowed?: readonly string[]): PlannedStep | undefined {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) {
    issues.push(src.issue(at, 'each step must be a mapping starting with "step: KIND"'));
    return undefined;
  }
  const { step: kind, ...rawOptions } = raw as Record<string, unknown>;
  const kinds = allowed ?? stepKinds();
  if (typeof kind !== 'string') {
    issues.push(src.issue(at, `missing "step:" (one of: ${kinds.join(', ')})`));
    return undefined;
  }
  const step = findStep(kind);
  if (!step || (allowed && !allowed.includes(kind))) {
    issues.push(src.issue([...at, 'step'], step ? `a ${kind} step cannot be used here (one of: ${kinds.join(', ')})` : `unknown step kind "${kind}"${didYouMean(kind, kinds)} (one of: ${kinds.join(', ')})`));
    return undefined;
  }
  const before = issues.length;
  const resolved = resolve(at, rawOptions);
  if (issues.length > before) return undefined;
  const parsed = step.schema.safeParse(resolved);
  if (!parsed.success) {
    issues.push(...zodIssues(src, at, parsed.error, step.schema));
    return undefined;
  }
  return { index, kind, step, options: parsed.data, title: redact(step.title(parsed.data)), file: src.file, line: src.locate(at).line, source: src, at };
}
