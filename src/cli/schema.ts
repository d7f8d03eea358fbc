/** `umlbuild schema`: the recipe format's JSON Schema. */
import type { Command } from 'commander';
import { out } from './options.js';

export function schemaCli(p: Command): void {
  p.command('schema')
    .description('print the JSON Schema of the recipe format (recipes/recipe.schema.json)')
    .action(async () => {
      const { recipeJsonSchema } = await import('../api/report.js');
      out(JSON.stringify(recipeJsonSchema(), null, 2));
    });
}
