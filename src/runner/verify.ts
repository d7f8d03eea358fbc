/**
 * Verify every step of a plan before any runs: step `verify` hooks report
 * recipe problems (exit 2) and host needs (tools, root: exit 3), all at once.
 */
import { HostError, RecipeError, type RecipeIssue } from '../errors.js';
import type { Plan } from '../recipe/load.js';
import { findTool, packageFor } from '../host/tools.js';
import type { RootlessSupport } from '../host/userns.js';
import { privilege } from '../host/privilege.js';
import { fetchEnv } from '../host/proxy.js';
import { planDataProblems } from '../model/plan.js';
import { readFile } from 'node:fs/promises';
import { traitsOf } from '../steps/select.js';
import { kernelConfigIssues } from './kernel-check.js';

export interface VerifyResult {
  /** An ordinary user's build that can run in a user namespace (see host/userns). */
  userns: boolean;
}

/**
 * `rootless` says whether this user can build in a user namespace (asked only
 * when not root): then steps that need root only for chroot and file
 * ownership are satisfied; loop devices and mounts of images are not.
 * `cached`: the planned steps a warm build takes from the base-image cache
 * (they verify without the checks that cost time).
 */
export async function verifyPlan(plan: Plan, rootless?: () => Promise<RootlessSupport>, opts: { cached?: ReadonlySet<unknown> } = {}): Promise<VerifyResult> {
  // A plan is data a library caller may have made or changed: its shape is checked before its steps.
  const unsound = planDataProblems(plan);
  if (unsound.length) throw new RecipeError(unsound.map((u) => ({ file: `plan of ${plan.file ?? 'a recipe'}`, path: u.path, message: u.message })));
  const issues: RecipeIssue[] = [];
  const missing = new Map<string, string[]>();
  const rootNeeded: string[] = [];
  const nsCapable: string[] = [];
  const hostNeeds: string[] = [];
  const priv = privilege();
  const proxies = fetchEnv(plan.aptProxy);
  // The image's steps, then each COW variant's (with that variant's variables).
  const all = [...plan.steps.map((ps) => ({ ps, vars: plan.vars })), ...plan.variants.flatMap((v) => v.steps.map((ps) => ({ ps, vars: v.vars })))];
  for (const { ps, vars } of all) {
    const problem = (message: string, key?: string) => {
      const sub = key
        ? key
            .split(/[.[\]]/)
            .filter(Boolean)
            .map((k) => (/^\d+$/.test(k) ? Number(k) : k))
        : [];
      issues.push(ps.source.issue([...ps.at, ...sub], message));
    };
    try {
      await ps.step.verify?.(ps.options, {
        recipeDir: plan.dir,
        vars,
        problem,
        fetchEnv: proxies,
        cached: opts.cached?.has(ps) || undefined,
        requireTool: async (tool) => {
          if (!(await findTool(tool))) missing.set(tool, [...(missing.get(tool) ?? []), `steps[${ps.index}] ${ps.kind}`]);
        },
        requireHost: (need) => {
          hostNeeds.push(`steps[${ps.index}] ${ps.kind}: ${need}`);
        },
        requireRoot: (why, opts) => {
          const where = `steps[${ps.index}] ${ps.kind}: ${why}`;
          if (priv === 'root') return;
          if (opts?.userns) {
            if (priv === 'user') nsCapable.push(where);
          } else rootNeeded.push(priv === 'userns-root' ? `${where} (a user namespace is not enough)` : where);
        },
      });
    } catch (e) {
      problem((e as Error).message);
    }
  }
  // A kernel config known before building (a kernel step's whole config file): what the launch configuration needs of it.
  for (const ps of plan.steps) {
    const config = traitsOf(ps).knownKernelConfig?.(ps.options, { recipeDir: plan.dir });
    if (!config) continue;
    const text = await readFile(config, 'utf8').catch(() => undefined);
    if (text !== undefined) issues.push(...kernelConfigIssues(plan, text, `${config} (steps[${ps.index}] ${ps.kind})`).issues);
  }
  plan.annotate?.(issues);
  if (issues.length) throw new RecipeError(issues);
  const lines: string[] = [];
  for (const [tool, users] of missing) lines.push(`missing host tool ${tool} (package ${packageFor(tool)}), needed by ${users.join(', ')}`);
  for (const need of hostNeeds) lines.push(`this host lacks what a step needs: ${need}`);
  if (rootNeeded.length) lines.push(`this build must run as root:\n${rootNeeded.map((r) => `  ${r}`).join('\n')}`);
  let userns = false;
  if (!rootNeeded.length && nsCapable.length) {
    const support = rootless ? await rootless() : { ok: false, detail: 'rootless builds are not offered for this command' };
    if (support.ok) userns = true;
    else lines.push(`this build needs root, or a user namespace (${support.detail}):\n${nsCapable.map((r) => `  ${r}`).join('\n')}`);
  }
  if (lines.length) throw new HostError(lines.join('\n'), [...missing.keys()].map(packageFor));
  return { userns };
}
