/**
 * `variants:` named machines built as COW files over the recipe's image.
 * Each variant overrides variables and runs the recipe's `variant_steps`
 * (then its own `steps`) on top of the base: file-writing steps (template,
 * overlay) and `run` commands (executed inside the guest).
 *
 * ```yaml
 * variant_steps:                 # for every variant
 *   - step: template
 *     template: hostname
 * variants:
 *   - name: web1
 *     variables: { hostname: web1 }
 *     steps:                     # optional, after variant_steps
 *       - step: run
 *         command: echo web > /etc/role
 * ```
 */
import { z } from 'zod';
import type { RecipeIssue } from '../errors.js';
import type { PlanVariantData } from '../model/plan.js';
import { planStep, type PlannedStep } from './plan-step.js';
import type { KeyPath, RecipeSource } from './source.js';
import { interpolate, resolveVariables, type Vars } from './variables.js';
import { checkStepInputs, VariableFlow, type VariableOrigins } from './flow.js';
import { zodIssues } from './zod-issues.js';
import type { ValueCheck } from './variable-defs.js';
import { STEPS } from '../steps/index.js';

/** The steps a variant may use: those whose traits say how they run in one. */
export const variantStepKinds = (): string[] => STEPS.filter((s) => s.traits?.inVariant).map((s) => s.kind);

export interface PlannedVariant extends PlanVariantData {
  steps: PlannedStep[];
}

const variantSchema = z
  .object({
    name: z.string().regex(/^[\w.+-]+$/, 'use letters, digits, dot, dash, plus or underscore'),
    variables: z.record(z.string(), z.unknown()).default({}),
    steps: z.array(z.unknown()).default([]),
  })
  .strict();

interface Layer {
  source: RecipeSource;
  data: Record<string, unknown>;
}

/** `outside`: the recipe's variables given from outside (literal) and the secret ones. */
export function planVariants(layers: Layer[], rawVars: Vars, issues: RecipeIssue[], outside: VariableOrigins, checkValues?: ValueCheck): PlannedVariant[] {
  const variantsLayer = [...layers].reverse().find((l) => l.data.variants !== undefined);
  if (!variantsLayer) return [];
  const sharedLayer = [...layers].reverse().find((l) => l.data.variant_steps !== undefined);
  const shared = Array.isArray(sharedLayer?.data.variant_steps) ? (sharedLayer!.data.variant_steps as unknown[]) : [];
  const list = variantsLayer.data.variants;
  const src = variantsLayer.source;
  if (!Array.isArray(list)) {
    issues.push(src.issue(['variants'], 'variants must be a list of { name, variables, steps }'));
    return [];
  }
  const seen = new Set<string>();
  const out: PlannedVariant[] = [];
  list.forEach((raw, i) => {
    const at: KeyPath = ['variants', i];
    const parsed = variantSchema.safeParse(raw);
    if (!parsed.success) {
      issues.push(...zodIssues(src, at, parsed.error, variantSchema));
      return;
    }
    const v = parsed.data;
    if (seen.has(v.name)) issues.push(src.issue([...at, 'name'], `two variants are named ${v.name}`));
    seen.add(v.name);
    for (const key of Object.keys(v.variables)) {
      if (!(key in rawVars)) issues.push(src.issue([...at, 'variables', key], `unknown variable "${key}" (the recipe defines: ${Object.keys(rawVars).sort().join(', ')})`, { key: true }));
    }
    const resolved = resolveVariables({ ...rawVars, ...v.variables }, new Set([...outside.origin.keys()].filter((n) => !(n in v.variables))));
    for (const p of resolved.problems) issues.push(src.issue([...at, 'variables'], p.message));
    const given = new Set(Object.keys(v.variables));
    for (const p of checkValues?.(resolved.vars, given) ?? []) if (given.has(p.name)) issues.push(src.issue([...at, 'variables', p.name], p.message));
    const secretVars = new Set(Object.keys(resolved.vars).filter((n) => [...(resolved.uses.get(n) ?? [n])].some((d) => outside.secretVars.has(d))));
    const flow = new VariableFlow({ ...outside, uses: resolved.uses, secretVars });
    const firstIssue = issues.length;
    const resolveIn = (source: RecipeSource) => (path: KeyPath, value: unknown) => {
      const found: { path: KeyPath; message: string }[] = [];
      const res = interpolate(value, resolved.vars, found, [], flow.onRef(source, path, 'any'));
      for (const f of found) issues.push(source.issue([...path, ...f.path], f.message));
      return res;
    };
    const steps: PlannedStep[] = [];
    shared.forEach((s, j) => {
      const p = planStep(sharedLayer!.source, ['variant_steps', j], j, s, resolveIn(sharedLayer!.source), issues, variantStepKinds());
      if (p) steps.push(p);
    });
    v.steps.forEach((s, j) => {
      const p = planStep(src, [...at, 'steps', j], j, s, resolveIn(src), issues, variantStepKinds());
      if (p) steps.push(p);
    });
    if (!steps.length) issues.push(src.issue(at, `variant ${v.name} changes nothing: give it steps, or variant_steps for all variants`));
    checkStepInputs(flow, steps, resolved.vars, issues);
    flow.annotate(issues, firstIssue);
    issues.push(...flow.secretLeaks());
    out.push({ name: v.name, vars: resolved.vars, steps });
  });
  return out;
}
