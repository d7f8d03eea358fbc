/** How a file-editing step runs on the tree: its edits, applied by the tree applier. */
import type { EditTarget } from '../edits/model.js';
import { applyTreeEdits, treeTarget } from '../edits/tree.js';
import type { EditContext, Step, StepContext } from './types.js';

/** The EditContext for `target` in a build. */
export function editContext(ctx: Pick<StepContext, 'recipeDir' | 'vars' | 'facts' | 'reproducible' | 'exec' | 'log'>, target: EditTarget): EditContext {
  return {
    recipeDir: ctx.recipeDir,
    vars: ctx.vars,
    facts: ctx.facts,
    reproducible: ctx.reproducible,
    readFile: (p) => target.readFile(p),
    stat: (p) => target.stat(p),
    exec: (cmd, args, opts) => ctx.exec(cmd, args, opts),
    log: (l) => ctx.log(l),
  };
}

/** A file-editing step's `run`: its edits, computed against the rootfs and applied there. */
export async function runEdits<O>(step: Step<O>, o: O, ctx: StepContext): Promise<void> {
  const root = ctx.requireRootfs();
  const edits = await step.edits!(o, editContext(ctx, treeTarget(root)));
  await applyTreeEdits(root, edits, { signal: ctx.signal });
}
