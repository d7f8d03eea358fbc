/** `umlbuild steps`: the step kinds and their options. */
import type { Command } from 'commander';
import { withDetails } from './help.js';
import { out } from './options.js';

export function stepsCli(p: Command): void {
  const c = p
    .command('steps')
    .description('list the step kinds and their options (umlbuild-recipe(5) has each one described)')
    .argument('[kind]', 'only this step kind')
    .action(async (kind: string | undefined) => {
      const { steps } = await import('../api/commands.js');
      out(steps(kind));
    });
  withDetails(c, { examples: [['umlbuild steps'], ['umlbuild steps debootstrap', 'its options, defaults and the required ones']] });
}
