/** `umlbuild verify-cow`: check COW files against their base image. */
import type { Command } from 'commander';
import { EXIT } from '../api/basics.js';
import { withDetails } from './help.js';
import { out } from './options.js';

export function verifyCowCli(p: Command): void {
  const c = p
    .command('verify-cow')
    .description('check that COW files still match their base image; optionally restore the base mtime')
    .argument('<dir|cow...>', 'COW files, or directories whose COW files to check')
    .option('--fix-mtime', "restore the base image's mtime when its content still matches its manifest")
    .action(async (targets: string[], o: { fixMtime?: boolean }) => {
      const { verifyCow } = await import('../api/commands.js');
      if (!(await verifyCow(targets, { fixMtime: o.fixMtime, log: (l) => out(l) }))) process.exitCode = EXIT.buildFailed;
    });
  withDetails(c, { examples: [['umlbuild verify-cow out/', 'exit 1 when a COW file no longer matches its base']] });
}
