/** `umlbuild boot`: start a built image interactively. */
import type { Command } from 'commander';

export function bootCli(p: Command): void {
  p.command('boot')
    .description('start a built image interactively, the way its launch script does')
    .argument('<image|outdir>')
    .argument('[kernel-args...]', 'extra kernel arguments (after --)')
    .option('--cow <file>', 'boot on this COW file over the image (created if missing)')
    .option('--user <user>', 'run UML as this user when started as root')
    .option('--allow-root', 'run UML as root')
    .action(async (target: string, extra: string[], o: { cow?: string; user?: string; allowRoot?: boolean }) => {
      const { boot } = await import('../api/commands.js');
      process.exitCode = await boot(target, extra, o);
    });
}
