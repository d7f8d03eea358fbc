/**
 * The only way a test may skip: `skipBecause(this, 'what is missing')`.
 * Outside CI the test is skipped and the reason is printed by
 * test/support/reporter.cjs; under CI=true it throws instead, so the run
 * fails naming what is missing (and the reporter fails any other pending
 * test too: it.skip, a bare this.skip()).
 */
import { findTool, isRoot, packageFor } from '../../src/host/tools.js';

export function inCI(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.CI === 'true' || env.CI === '1';
}

/** Attach `reason` where the reporter finds it (the test, or a hook's suite), then skip; in CI, fail. */
export function skipBecause(ctx: Mocha.Context, reason: string): never {
  if (inCI()) throw new Error(`not skipped in CI (CI=true): ${reason}`);
  const runnable = ctx.currentTest ?? ctx.test;
  const owner: object | undefined = (runnable as { type?: string } | undefined)?.type === 'hook' ? runnable?.parent : runnable;
  if (owner) (owner as { skipReason?: string }).skipReason = reason;
  ctx.skip();
}

/** What is missing for `tools` (and root, if `root`): e.g. "root; mkfs.ext4 (package e2fsprogs)", or '' if nothing. */
export async function missing(tools: readonly string[], root: boolean): Promise<string> {
  const lacks: string[] = [];
  if (root && !isRoot()) lacks.push(`root (running as uid ${process.getuid?.() ?? '?'})`);
  for (const t of tools) if (!(await findTool(t))) lacks.push(`host tool ${t} (package ${packageFor(t)})`);
  return lacks.join('; ');
}

/** Skip (outside CI) or fail (CI) unless root with every tool in `tools`. */
export async function requireRootWith(ctx: Mocha.Context, ...tools: string[]): Promise<void> {
  const lacks = await missing(tools, true);
  if (lacks) skipBecause(ctx, `needs ${lacks}`);
}

/** Skip (outside CI) or fail (CI) unless every tool in `tools` is on PATH. */
export async function requireTools(ctx: Mocha.Context, ...tools: string[]): Promise<void> {
  const lacks = await missing(tools, false);
  if (lacks) skipBecause(ctx, `needs ${lacks}`);
}
