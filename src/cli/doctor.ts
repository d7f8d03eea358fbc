/** `umlbuild doctor`: what this host has and lacks. */
import type { Command } from 'commander';
import { EXIT } from '../api/basics.js';
import { withDetails } from './help.js';
import { out } from './options.js';

export function doctorCli(p: Command): void {
  const c = p
    .command('doctor')
    .description('check host tools and privileges; print the Debian packages to install')
    .action(async () => {
      const { doctor } = await import('../api/commands.js');
      const r = await doctor();
      out(r.lines.join('\n'));
      if (!r.ok) process.exitCode = EXIT.hostMissing;
    });
  withDetails(c, { examples: [['umlbuild doctor', 'exit 3 when something a build needs is missing']], env: [['PATH', 'where the host tools are looked for']] });
}
