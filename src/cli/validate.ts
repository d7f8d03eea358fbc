/** `umlbuild validate`: check a recipe and the host without side effects. */
import type { Command } from 'commander';
import { validate } from '../api/commands.js';
import { ENV, withDetails } from './help.js';
import { collectSet, out, setOption, warn } from './options.js';

export function validateCli(p: Command): void {
  const c = p
    .command('validate')
    .description('check a recipe and the host without side effects')
    .argument('<recipe>', 'the recipe: a YAML file')
    .option(...setOption, collectSet)
    .action(async (recipe: string, o: { set?: Record<string, string> }) => {
      const plan = await validate(recipe, { set: o.set ?? {}, onWarning: warn });
      out(`${recipe}: ok (${plan.steps.length} steps)`);
    });
  withDetails(c, {
    examples: [['umlbuild validate recipes/bookworm.yml --set hostname=web1', 'every problem with file:line:col and key path, exit 2; or "ok"']],
    env: [ENV.vars, ENV.epoch],
  });
}
