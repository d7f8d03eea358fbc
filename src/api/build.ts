/**
 * What `umlbuild build` needs around `build()`: whether an ordinary user's
 * build runs in a user namespace, the dry run, the artifacts to publish and
 * the generated passwords to announce.
 */
import { HostError } from '../errors.js';
import { announceGenerated, type Announce } from '../host/generated-password.js';
import { privilege } from '../host/privilege.js';
import { findTool } from '../host/tools.js';
import { rerunInUserns, rootlessSupport } from '../host/userns.js';
import { planText } from '../plan-text.js';
import type { Plan } from '../recipe/load.js';
import { writeArtifacts, type Compression } from '../runner/artifacts.js';
import { checkImageSizes } from '../runner/size-limit.js';
import { verifyPlan } from '../runner/verify.js';

export { announceGenerated, writeArtifacts, type Announce, type Compression };
export { HOOK_STAGES, type HookStage } from '../steps/hook.js';
export type { RendererName } from '../runner/renderer.js';
export { checkOnFailure, ON_FAILURE, type OnFailure } from '../runner/on-failure.js';

/** Whether this plan runs rootless: an ordinary user's build where every step allows a user namespace (host/userns). */
export async function runsRootless(plan: Plan): Promise<boolean> {
  return privilege() === 'user' ? (await verifyPlan(plan, rootlessSupport)).userns : false;
}

/** The dry run: check the host (unless the build runs rootless, checked already); the resolved plan, and how it runs rootless. */
export async function dryRun(plan: Plan, outDir: string, rootless: boolean): Promise<{ text: string; rootless?: string }> {
  if (!rootless) await verifyPlan(plan);
  // What build() checks before anything runs, too.
  await checkImageSizes(plan, outDir);
  const text = await planText(plan, outDir);
  return rootless ? { text, rootless: `runs rootless: in a user namespace (${(await rootlessSupport()).detail})` } : { text };
}

/** `--test` boots the result: the UML kernel must be here before anything is built. */
export async function requireUmlKernel(): Promise<void> {
  if (!(await findTool('linux'))) throw new HostError('--test boots the image with the UML kernel, and there is none (linux)', ['user-mode-linux']);
}

/** Run this same command line again in a user namespace; its exit code. */
export async function rerunRootless(): Promise<number> {
  return rerunInUserns(await rootlessSupport());
}
