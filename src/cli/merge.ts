/** `umlbuild merge`: a COW file and its base into one image. */
import type { Command } from 'commander';
import { withDetails } from './help.js';
import { out } from './options.js';

export function mergeCli(p: Command): void {
  const c = p
    .command('merge')
    .summary('merge a COW file with its base into a new image, or into the base')
    .description('merge a COW file with its base into a new image (uml_moo), or into the base with --in-place; the base must be an image umlbuild built (its manifest beside it, with the block map or sha256 it records)')
    .argument('<cow>', 'the COW file to merge')
    .argument('[new-base]', "the merged image to write (default: the COW file's name with .img)")
    .option('--in-place', 'merge into the base itself (only a COW child its manifest records, and refused while the base has other COW children)')
    .action(async (cow: string, newBase: string | undefined, o: { inPlace?: boolean }) => {
      const { merge } = await import('../api/commands.js');
      await merge(cow, newBase, { inPlace: o.inPlace, log: (l) => out(l) });
    });
  withDetails(c, {
    examples: [
      ['umlbuild merge out/web1.cow', 'writes out/web1.img'],
      ['umlbuild merge out/web1.cow --in-place', 'folds web1.cow into its base image'],
    ],
  });
}
