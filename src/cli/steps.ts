/** `umlbuild steps`: the step kinds and their options. */
import type { Command } from 'commander';
import { out } from './options.js';

export function stepsCli(p: Command): void {
  p.command('steps')
    .description('list the step kinds and their options')
    .action(async () => {
      const { steps } = await import('../api/commands.js');
      out(steps());
    });
}
