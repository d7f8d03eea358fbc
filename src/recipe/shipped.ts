/**
 * The recipes that come with umlbuild (recipes/*.yml in the package), by
 * name: `umlbuild bookworm` from any directory. A file that exists wins over
 * a shipped recipe of the same name; only a plain name (letters, digits,
 * `.`, `_`, `-`, no `/`, not starting with `.`) is ever looked up among the
 * shipped ones, so `../../x` or `/etc/x` always mean those paths.
 */
import { readdirSync, statSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RecipeError, type RecipeIssue } from '../errors.js';
import { readChain } from './load.js';
import { readDefs } from './variable-defs.js';
import { looksSecret } from './variables.js';

/** The package's recipes directory (beside src/ in a checkout, beside dist/ when installed). */
export const RECIPES_DIR = fileURLToPath(new URL('../../recipes/', import.meta.url));

/** A shipped recipe's name: a plain file name, no path. */
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** The shipped recipe `arg` may name (`bookworm`, `bookworm.yml`), or undefined when it cannot name one (a path). */
export function shippedName(arg: string): string | undefined {
  if (!NAME.test(arg)) return undefined;
  const name = arg.replace(/\.ya?ml$/, '');
  return NAME.test(name) ? name : undefined;
}

export interface RecipeRef {
  /** The file to load. */
  file: string;
  /** `file`: the path as given (it exists, or is reported missing by the loader); `shipped`: the package's recipe of that name. */
  from: 'file' | 'shipped';
  /** `from: 'file'` only: a shipped recipe of the same name exists too (the file here won). */
  shadows?: string;
}

const isFile = (p: string) => statSync(p, { throwIfNoEntry: false })?.isFile() ?? false;

/** The names of the shipped recipes (recipes/*.yml, not the included parts under recipes/include/), sorted. */
export function shippedNames(dir: string = RECIPES_DIR): string[] {
  let files: string[];
  try {
    files = readdirSync(dir);
  } catch {
    return [];
  }
  return files
    .filter((f) => f.endsWith('.yml') && shippedName(f) !== undefined && isFile(join(dir, f)))
    .map((f) => f.slice(0, -'.yml'.length))
    .sort();
}

/**
 * Which file `arg` means: a file that exists (relative to `cwd`) wins; else a
 * plain name of a shipped recipe; else the path as given (the loader says it
 * is missing). A bare name that is neither is a RecipeError naming the
 * shipped recipes.
 */
export function findRecipe(arg: string, o: { cwd?: string; dir?: string } = {}): RecipeRef {
  const dir = o.dir ?? RECIPES_DIR;
  const name = shippedName(arg);
  const shipped = name !== undefined && isFile(join(dir, `${name}.yml`)) ? join(dir, `${name}.yml`) : undefined;
  const local = resolve(o.cwd ?? process.cwd(), arg);
  if (isFile(local)) return shipped && shipped !== local ? { file: arg, from: 'file', shadows: shipped } : { file: arg, from: 'file' };
  if (shipped) return { file: shipped, from: 'shipped' };
  if (name !== undefined && !/\.ya?ml$/.test(arg)) {
    const names = shippedNames(dir);
    throw new RecipeError([{ file: arg, path: '', message: `no such file, and umlbuild ships no recipe of that name (shipped: ${names.join(', ') || 'none'}; \`umlbuild recipes\` describes them)` }]);
  }
  return { file: arg, from: 'file' };
}

export interface RecipeVariable {
  name: string;
  /** The default as the recipe writes it (`${...}` unexpanded); undefined for a secret one. */
  default?: unknown;
  description?: string;
  type?: string;
  required?: boolean;
  secret?: boolean;
  /** Generated when not given (a password). */
  generated?: boolean;
}

export interface ShippedRecipe {
  /** What `umlbuild <name>` builds. */
  name: string;
  file: string;
  description?: string;
  /** Every variable, those of the recipes it extends included, in definition order. */
  variables: RecipeVariable[];
}

/** A recipe's description and variables, its `extends` chain merged (the child wins), without checking the rest of it. */
export async function describeRecipe(file: string, name: string): Promise<ShippedRecipe> {
  const issues: RecipeIssue[] = [];
  const chain = await readChain(file, issues);
  const layers = 'notARecipe' in chain ? [] : chain;
  const defs = readDefs(layers, issues);
  if (!layers.length || issues.length) throw new RecipeError(issues.length ? issues : [{ file, path: '', message: 'not a recipe' }]);
  const description = [...layers].reverse().find((l) => typeof l.data.description === 'string')?.data.description as string | undefined;
  const variables = [...defs].map(([n, { spec }]): RecipeVariable => {
    const v: RecipeVariable = { name: n };
    if (spec.secret ?? looksSecret(n)) v.secret = true;
    else if (spec.default !== undefined) v.default = spec.default;
    if (spec.description) v.description = spec.description;
    if (spec.type) v.type = spec.type;
    if (spec.required) v.required = true;
    if (spec.generate) v.generated = true;
    return v;
  });
  return { name, file, description, variables };
}

/** Every shipped recipe with its description and variables. */
export async function shippedRecipes(dir: string = RECIPES_DIR): Promise<ShippedRecipe[]> {
  await readdir(dir); // a missing directory is an error here, not an empty list
  return Promise.all(shippedNames(dir).map((n) => describeRecipe(join(dir, `${n}.yml`), n)));
}
