/** `umlbuild validate`: check a recipe and the host without side effects. */
import type { Command } from 'commander';
import { collectSet, out, recipeArg, setOption, warn } from './options.js';

export function validateCli(p: Command): void {
  p.command('validate')
    .description('check a recipe and the host without side effects')
    .argument('<recipe>', 'recipe file (YAML), or the name of one that comes with umlbuild (umlbuild recipes)')
    .option(...setOption, collectSet, {})
    .action(async (recipe: string, o: { set: Record<string, string> }) => {
      const { validate } = await import('../api/commands.js');
      const plan = await validate(await recipeArg(recipe), { set: o.set, onWarning: warn });
      out(`${recipe}: ok (${plan.steps.length} steps)`);
    });
}
