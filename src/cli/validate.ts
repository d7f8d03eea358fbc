/** `umlbuild validate`: check a recipe and the host without side effects, with build's plan options: the plan build would run. */
import type { Command } from 'commander';
import { ENV, withDetails } from './help.js';
import { addLogOptions, addPlanOptions, type LogFlags, out, type PlanFlags, planLoadOptions, recipeArg, warn } from './options.js';

async function validateCommand(recipe: string, o: PlanFlags & LogFlags) {
  const events = o.json || o.logFormat === 'ndjson' ? (await import('../api/events.js')).eventLog(out) : undefined;
  try {
    const { validate } = await import('../api/commands.js');
    const plan = await validate(await recipeArg(recipe), {
      ...planLoadOptions(o),
      outDir: o.out,
      onWarning: (w) => {
        warn(w);
        events?.emit({ type: 'warning', message: w });
      },
    });
    if (events) events.validated(recipe, plan.steps.length);
    else out(`${recipe}: ok (${plan.steps.length} steps)`);
  } catch (e) {
    events?.failed(e, 'validate-failed');
    throw e;
  }
}

export function validateCli(p: Command): void {
  const c = p.command('validate').description('check a recipe and the host without side effects: the plan `build` would run with the same options').argument('<recipe>', 'the recipe: a YAML file');
  addLogOptions(addPlanOptions(c)).action(validateCommand);
  withDetails(c, {
    examples: [
      ['umlbuild validate recipes/bookworm.yml --set hostname=web1', 'every problem with file:line:col and key path, exit 2; or "ok"'],
      ['umlbuild validate recipes/bookworm.yml --variant hostfs', 'the plan of the hostfs-root variant'],
    ],
    env: [ENV.vars, ENV.epoch],
  });
}
