/**
 * Who `umlbuild test` logs in as: `--login USER[:PASSWORD]`, else
 * UMLBUILD_TEST_PASSWORD, else the recipe's `test.password`: handed over in
 * memory by the build that just made the image (`--test`, so `--set`
 * values and a generated password count), or else read again from the
 * recipe with the build's variables and this environment (api/login.ts, which
 * hands that reading in; the manifest never holds a password) — but a password the manifest says was generated or
 * given from outside the recipe is known to it only through this
 * environment's UMLBUILD_VAR_<NAME>. What
 * is still missing is asked for on a terminal (no echo), or else the error
 * says how to give it.
 */
import { UserError, EXIT } from '../errors.js';
import { askPassword, canAsk } from '../host/ask-password.js';
import { registerSecret } from '../host/secrets.js';
import type { BuiltImage } from './target.js';

export interface Asker {
  canAsk(): boolean;
  ask(prompt: string): Promise<string>;
}

export const TERMINAL: Asker = { canAsk, ask: (p) => askPassword(p) };
export const NO_TERMINAL: Asker = { canAsk: () => false, ask: () => Promise.reject(new Error('no terminal')) };

/** Why the password is unknown, and how to give it. */
export function howToGive(img: BuiltImage, user: string): string {
  const why = Object.entries(img.passwords ?? {}).map(([k, how]) => (how === 'generated' ? `${k} was generated at build time (shown once at its end, or in the .password file beside the image)` : `${k} was given at build time`));
  return [
    `no password to log in as ${user}${why.length ? `: ${why.join('; ')}` : ''}`,
    `  give it with --login ${user}:PASSWORD, or in the environment: UMLBUILD_TEST_PASSWORD=PASSWORD umlbuild test ...`,
    '  (on a terminal umlbuild asks for it; stdin is not one here)',
  ].join('\n');
}

/**
 * `fromRecipe` reads the recipe's test password again (the library API's
 * login.ts: the recipe loader sits above this layer); without it there is none.
 */
export async function resolveLogin(
  img: BuiltImage,
  login: string | undefined,
  env: NodeJS.ProcessEnv,
  built?: { password?: string },
  asker: Asker = TERMINAL,
  fromRecipe: () => Promise<string | undefined> = async () => undefined,
): Promise<{ user: string; password: string }> {
  const [givenUser, ...rest] = (login ?? '').split(':');
  const user = givenUser || img.test.user;
  let password = rest.length ? rest.join(':') : env.UMLBUILD_TEST_PASSWORD || built?.password || (await fromRecipe());
  if (!password) {
    if (!asker.canAsk()) throw new UserError(howToGive(img, user), EXIT.invalid);
    password = await asker.ask(`password for ${user} on ${img.name} (not echoed): `);
    if (!password) throw new UserError(`no password given for ${user}`, EXIT.invalid);
  }
  registerSecret(password);
  return { user, password };
}
