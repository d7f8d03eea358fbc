/** `umlbuild merge`: a COW file and its base into one image. */
import type { Command } from 'commander';
import { out } from './options.js';

export function mergeCli(p: Command): void {
  p.command('merge')
    .description('merge a COW file with its base into a new image (uml_moo), or into the base with --in-place; the base must be an image umlbuild built (its manifest and sha256 beside it)')
    .argument('<cow>')
    .argument('[new-base]', 'the merged image to write (default: COW name with .img)')
    .option('--in-place', 'merge into the base itself (only a COW child its manifest records, and refused while the base has other COW children)')
    .action(async (cow: string, newBase: string | undefined, o: { inPlace?: boolean }) => {
      const { merge } = await import('../api/commands.js');
      await merge(cow, newBase, { inPlace: o.inPlace, log: (l) => out(l) });
    });
}
