/** `umlbuild validate`: check a recipe and the host without side effects. */
import type { Command } from 'commander';
import { validate } from '../api/commands.js';
import { collectSet, out, setOption, warn } from './options.js';

export function validateCli(p: Command): void {
  p.command('validate')
    .description('check a recipe and the host without side effects')
    .argument('<recipe>')
    .option(...setOption, collectSet, {})
    .action(async (recipe: string, o: { set: Record<string, string> }) => {
      const plan = await validate(recipe, { set: o.set, onWarning: warn });
      out(`${recipe}: ok (${plan.steps.length} steps)`);
    });
}
