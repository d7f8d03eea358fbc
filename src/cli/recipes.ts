/** `umlbuild recipes`: the recipes that come with umlbuild, which `umlbuild <name>` builds from any directory. */
import type { Command } from 'commander';
import type { RecipeVariable } from '../api/recipes.js';
import { withDetails } from './help.js';
import { out } from './options.js';

/** A variable and its default the way --set writes it (lists comma-separated); a secret one's default is not shown. */
function shown(v: RecipeVariable): string {
  if (v.secret) return `${v.name} (secret${v.generated ? ', generated when not given' : ''})`;
  if (v.required && (v.default === undefined || v.default === '')) return `${v.name} (required)`;
  const d = v.default;
  return `${v.name}=${d === undefined || d === null ? '' : Array.isArray(d) ? d.join(',') : typeof d === 'object' ? JSON.stringify(d) : String(d)}`;
}

export function recipesCli(p: Command): void {
  const c = p
    .command('recipes')
    .description('list the recipes that come with umlbuild, with their variables; `umlbuild NAME` builds one from any directory')
    .option('--json', 'print them as JSON')
    .action(async (o: { json?: boolean }) => {
      const { recipes, RECIPES_DIR } = await import('../api/recipes.js');
      const list = await recipes();
      if (o.json) {
        out(JSON.stringify(list, null, 2));
        return;
      }
      const lines: string[] = [];
      for (const r of list) {
        lines.push(`${r.name}${r.description ? `  ${r.description}` : ''}`);
        for (const v of r.variables) lines.push(`    ${shown(v)}${v.description ? `\n        ${v.description}` : ''}`);
        lines.push('');
      }
      lines.push(`in ${RECIPES_DIR}; build one with \`umlbuild NAME [--set variable=value ...]\``);
      out(lines.join('\n'));
    });
  withDetails(c, {
    examples: [
      ['umlbuild recipes', 'each shipped recipe with its description and variables (name=default)'],
      ['umlbuild bookworm --set hostname=web1', 'build the shipped bookworm recipe from any directory'],
    ],
  });
}
