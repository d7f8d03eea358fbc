/** `umlbuild schema`: the recipe format's JSON Schema, or with --events the events' (docs/events.schema.json). */
import type { Command } from 'commander';
import { withDetails } from './help.js';
import { out } from './options.js';

export function schemaCli(p: Command): void {
  const c = p
    .command('schema')
    .description('print the JSON Schema of the recipe format (recipes/recipe.schema.json)')
    .option('--events', 'print the JSON Schema of one --log-format ndjson event instead (docs/events.schema.json)')
    .action(async (o: { events?: boolean }) => {
      const schema = o.events ? (await import('../api/events.js')).eventsJsonSchema() : (await import('../api/report.js')).recipeJsonSchema();
      out(JSON.stringify(schema, null, 2));
    });
  withDetails(c, {
    examples: [
      ['umlbuild schema > recipe.schema.json', 'for an editor: # yaml-language-server: $schema=recipe.schema.json'],
      ['umlbuild schema --events', 'the schema of each line of --log-format ndjson'],
    ],
  });
}
