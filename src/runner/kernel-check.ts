/**
 * The recipe's launch configuration checked against the config of the kernel
 * it boots with (launch/kernel-config.ts), once that config is known: at
 * validation when a step names its full config file (the `knownKernelConfig`
 * trait), and right after the step that built the kernel (facts.kernel: its
 * cache entry's `config`). An unmet need is a recipe error (exit 2) naming the
 * launch key and the CONFIG option.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { RecipeError, type RecipeIssue } from '../errors.js';
import { checkKernelConfig, type KernelConfigProblem, kernelNeeds, type KernelNeed } from '../launch/kernel-config.js';
import type { BuiltKernel } from '../model/kernel.js';
import type { Plan } from '../recipe/load.js';
import { outputOf } from '../steps/select.js';

/** What the plan's launch configuration and root need of its kernel (mconsole only as a warning). */
export function planKernelNeeds(plan: Pick<Plan, 'launch' | 'rootfs' | 'steps'>): KernelNeed[] {
  return kernelNeeds({ launch: plan.launch, rootfs: plan.rootfs === 'hostfs' ? 'hostfs' : 'image', fs: plan.rootfs === 'hostfs' ? undefined : outputOf(plan.steps)?.fs });
}

/** The plan's needs `configText` does not meet, as recipe issues (`source`: where the config comes from, for the message). */
export function kernelConfigIssues(plan: Pick<Plan, 'launch' | 'rootfs' | 'steps' | 'file'>, configText: string, source: string): { issues: RecipeIssue[]; warnings: string[] } {
  const problems: KernelConfigProblem[] = checkKernelConfig(configText, planKernelNeeds(plan));
  return {
    issues: problems.filter((p) => !p.optional).map((p) => ({ file: plan.file ?? 'recipe', path: p.where, message: `${p.message} (the kernel config ${source})` })),
    warnings: problems.filter((p) => p.optional).map((p) => `${p.message} (the kernel config ${source})`),
  };
}

/** Check a config file; a RecipeError listing every unmet need, warnings through `warn`. */
export async function checkPlanKernelConfig(plan: Plan, configFile: string, source: string, warn?: (l: string) => void): Promise<void> {
  const r = kernelConfigIssues(plan, await readFile(configFile, 'utf8'), source);
  for (const w of r.warnings) warn?.(`warning: ${w}`);
  if (r.issues.length) {
    plan.annotate?.(r.issues);
    throw new RecipeError(r.issues);
  }
}

/** After a step: check the kernel it built (facts.kernel), once per kernel. */
export async function checkBuiltKernel(plan: Plan, kernel: BuiltKernel | undefined, checked: Set<string>, step: string, warn?: (l: string) => void): Promise<void> {
  if (!kernel || checked.has(kernel.key)) return;
  checked.add(kernel.key);
  await checkPlanKernelConfig(plan, join(kernel.dir, 'config'), `${join(kernel.dir, 'config')} that ${step} built`, warn);
}
