/** `umlbuild boot`: run the image's launch script with this terminal as its console. */
import { resolve } from 'node:path';
import { existsSync } from 'node:fs';
import { UserError } from '../errors.js';
import { spawn } from '../host/exec.js';
import type { BuiltImage } from './target.js';

export async function bootInteractive(img: BuiltImage, extra: string[], o: { cow?: string; user?: string; allowRoot?: boolean }): Promise<number> {
  if (!existsSync(img.script)) throw new UserError(`no launch script ${img.script}`);
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (k.startsWith('UML_') && v !== undefined) env[k] = v;
  if (o.cow) env.UML_UBD0 = `${resolve(o.cow)},${img.image}`;
  if (o.user) env.UML_USER = o.user;
  if (o.allowRoot) env.UML_ALLOW_ROOT = '1';
  if (process.env.TERM) env.TERM = process.env.TERM;
  const run = spawn(img.script, extra, { env, inherit: true });
  const r = await run.exited;
  return r.exitCode ?? (r.signal ? 1 : 0);
}
