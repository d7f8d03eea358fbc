/**
 * Who `umlbuild test` logs in as: `--login USER[:PASSWORD]`, else
 * UMLBUILD_TEST_PASSWORD, else the recipe's `test.password`: handed over in
 * memory by the build that just made the image (`--test`, so `--set`
 * values count), or else read again from the recipe with the build's
 * variables and this environment (the manifest never holds a password).
 */
import { existsSync } from 'node:fs';
import { UserError, EXIT } from '../errors.js';
import { registerSecret } from '../host/secrets.js';
import { loadRecipe } from '../recipe/load.js';
import type { BuiltImage } from './target.js';

export async function resolveLogin(img: BuiltImage, login: string | undefined, env: NodeJS.ProcessEnv, built?: { password?: string }): Promise<{ user: string; password: string }> {
  const [givenUser, ...rest] = (login ?? '').split(':');
  const user = givenUser || img.test.user;
  let password = rest.length ? rest.join(':') : (env.UMLBUILD_TEST_PASSWORD ?? built?.password);
  if (password === undefined && img.recipeFile && existsSync(img.recipeFile)) {
    const set: Record<string, string> = {};
    for (const [k, v] of Object.entries(img.variables)) {
      if (v !== '***' && v !== null && typeof v !== 'object') set[k] = String(v);
      else if (Array.isArray(v)) set[k] = v.join(',');
    }
    const plan = await loadRecipe(img.recipeFile, { set, env }).catch(() => undefined);
    password = plan?.test.password;
  }
  if (password === undefined || password === '') {
    throw new UserError(`no password to log in as ${user}: give --login ${user}:PASSWORD or UMLBUILD_TEST_PASSWORD`, EXIT.invalid);
  }
  registerSecret(password);
  return { user, password };
}
