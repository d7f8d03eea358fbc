/**
 * `overlay`: copy a file tree into the rootfs, keeping modes. `source` is a
 * directory under the project's overlays/ or a path relative to the recipe.
 * Files are owned by root unless `owner` says otherwise (names are looked up
 * in the image's /etc/passwd and /etc/group). Links already in the image are
 * resolved inside it, never on the host; setuid files, device nodes, fifos
 * and hard links are refused unless `allow` names them. One walk of the
 * source makes the step's file edits (edits/host-tree) for either applier.
 *
 * ```yaml
 * - step: overlay
 *   source: uml-console        # overlays/uml-console, or ./files/etc-extra
 *   dest: /                    # optional, default /
 *   owner: root:root           # optional
 * ```
 */
import { existsSync, statSync } from 'node:fs';
import { isAbsolute, posix, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { hostTreeEdits } from '../edits/host-tree.js';
import { dir } from '../edits/model.js';
import { runEdits } from './file-edits.js';
import { guestPath } from './options.js';
import type { Step } from './types.js';

export const OVERLAYS_DIR = fileURLToPath(new URL('../../overlays/', import.meta.url));

const schema = z
  .object({
    source: z.string().min(1),
    dest: guestPath.default('/'),
    owner: z
      .string()
      .regex(/^[\w.-]+(:[\w.-]+)?$/, 'use USER or USER:GROUP')
      .default('root:root'),
    /** Copy these as they are instead of refusing them. */
    allow: z.array(z.enum(['setuid', 'devices', 'hardlinks'])).default([]),
  })
  .strict();

type Options = z.infer<typeof schema>;

export function overlaySource(source: string, recipeDir: string): string {
  if (isAbsolute(source)) return source;
  if (source.startsWith('.')) return resolve(recipeDir, source);
  const named = resolve(OVERLAYS_DIR, source);
  return existsSync(named) ? named : resolve(recipeDir, source);
}

/** The owner's uid and gid: numbers, or names looked up in the image's passwd and group files (read by `read`). */
async function ownerIds(owner: string, read: (file: string) => Promise<string | undefined>): Promise<{ uid: number; gid: number }> {
  const [user, group = user] = owner.split(':') as [string, string?];
  return { uid: await guestId(read, '/etc/passwd', user), gid: await guestId(read, '/etc/group', group!) };
}

/** A numeric id, or a name looked up in the image's passwd/group file. */
async function guestId(read: (file: string) => Promise<string | undefined>, file: string, name: string): Promise<number> {
  if (/^\d+$/.test(name)) return Number(name);
  if (name === 'root') return 0;
  const text = (await read(file)) ?? '';
  const line = text.split('\n').find((l) => l.split(':')[0] === name);
  if (!line) throw new Error(`owner ${name} is not in the image's ${file}`);
  return Number(line.split(':')[2]);
}

export const overlay: Step<Options> = {
  kind: 'overlay',
  summary: 'copy a file tree (overlays/<name> or a recipe-relative path) into the rootfs',
  schema,
  traits: { requires: ['root'], inVariant: 'tree' },
  title: (o) => `Copy overlay ${o.source} to ${o.dest}`,
  async verify(o, ctx) {
    ctx.requireRoot('files in the image belong to root', { userns: true });
    const src = overlaySource(o.source, ctx.recipeDir);
    if (!existsSync(src) || !statSync(src).isDirectory()) ctx.problem(`overlay directory ${src} does not exist`, 'source');
  },
  async edits(o, ctx) {
    const src = overlaySource(o.source, ctx.recipeDir);
    const { uid, gid } = await ownerIds(o.owner, (f) => ctx.readFile(f));
    const dest = posix.resolve('/', o.dest);
    const entries = await hostTreeEdits(src, dest, { owner: { uid, gid }, allow: o.allow });
    ctx.log(`copying ${entries.length} entries from ${src} to ${dest} as ${uid}:${gid}`);
    // dest as a directory (made when missing, a link there followed inside the root), then the entries.
    return [dir(dest), ...entries];
  },
  run: (o, ctx) => runEdits(overlay, o, ctx),
};
