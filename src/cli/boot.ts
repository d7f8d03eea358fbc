/** `umlbuild boot`: start a built image interactively. */
import type { Command } from 'commander';
import { withDetails } from './help.js';

export function bootCli(p: Command): void {
  const c = p
    .command('boot')
    .description('start a built image interactively, the way its launch script does')
    .argument('<image|outdir>', 'an image umlbuild built, or the output directory that holds one (its manifest is beside it)')
    .argument('[kernel-args...]', 'extra kernel arguments (after --)')
    .option('--cow <file>', 'boot on this COW file over the image (created if missing)')
    .option('--user <user>', 'run UML as this user when started as root (default: the system user umlbuild-guest)')
    .option('--allow-root', 'run UML as root')
    .option('--kernel <path>', "boot with this UML kernel instead of the image's own (or linux from PATH); a config beside it (PATH.config, or the .config of its build tree) is checked first")
    .action(async (target: string, extra: string[], o: { cow?: string; user?: string; allowRoot?: boolean; kernel?: string }) => {
      const { boot } = await import('../api/commands.js');
      process.exitCode = await boot(target, extra, o);
    });
  withDetails(c, {
    examples: [
      ['umlbuild boot out/', 'boot the image in out/ with this terminal as its console'],
      ['umlbuild boot out/bookworm.img --cow /tmp/scratch.cow -- single', 'on a COW layer, with an extra kernel argument'],
      ['umlbuild boot out/ --kernel ~/linux/linux', "with a kernel from a build tree instead of the image's own"],
    ],
    env: [
      ['UML_USER, UML_ALLOW_ROOT', 'as --user and --allow-root'],
      ['UML_*', 'passed to the launch script (UML_MEM, UML_NET, UML_CON, UML_ARGS, ...: see its header)'],
      ['TERM', 'passed to the console'],
    ],
  });
}
