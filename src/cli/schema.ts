/** `umlbuild schema`: the recipe format's JSON Schema. */
import type { Command } from 'commander';
import { recipeJsonSchema } from '../api/report.js';
import { withDetails } from './help.js';
import { out } from './options.js';

export function schemaCli(p: Command): void {
  const c = p
    .command('schema')
    .description('print the JSON Schema of the recipe format (recipes/recipe.schema.json)')
    .action(() => void out(JSON.stringify(recipeJsonSchema(), null, 2)));
  withDetails(c, { examples: [['umlbuild schema > recipe.schema.json', 'for an editor: # yaml-language-server: $schema=recipe.schema.json']] });
}
