/** `umlbuild cleanup`: release what killed builds left behind, from their journals. */
import type { Command } from 'commander';
import { EXIT } from '../api/basics.js';
import { ENV, withDetails } from './help.js';
import { out } from './options.js';

export function cleanupCli(p: Command): void {
  const c = p
    .command('cleanup')
    .description('release what killed builds left behind (mounts, loop devices, temporary files), from their journals')
    .action(async () => {
      const { cleanup } = await import('../api/commands.js');
      const r = await cleanup();
      for (const a of r.actions) out(a);
      for (const e of r.errors) process.stderr.write(`umlbuild: ${e}\n`);
      out(r.builds ? `cleaned up after ${r.builds} build(s) (journals in ${r.journals})` : `nothing to clean up (journals in ${r.journals})`);
      if (r.errors.length) process.exitCode = EXIT.buildFailed;
    });
  withDetails(c, { examples: [['umlbuild cleanup', 'after a build was killed (kill -9, a crash, a power cut)']], env: [ENV.journal] });
}
