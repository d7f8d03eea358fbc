/**
 * `overlay`: copy a file tree into the rootfs, keeping modes. `source` is a
 * directory under the project's overlays/ or a path relative to the recipe.
 * Files are owned by root unless `owner` says otherwise (names are looked up
 * in the image's /etc/passwd and /etc/group). Links already in the image are
 * resolved inside it, never on the host; device nodes are refused.
 *
 * ```yaml
 * - step: overlay
 *   source: uml-console        # overlays/uml-console, or ./files/etc-extra
 *   dest: /                    # optional, default /
 *   owner: root:root           # optional
 * ```
 */
import { existsSync, statSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { lstat, readdir, readFile, readlink } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { UserError } from '../errors.js';
import { NotEditable, type ImageEdit } from '../host/debugfs.js';
import { missingParents } from './template.js';
import { z } from 'zod';
import { checkSpecial, copyTreeIntoRoot } from '../host/copy-tree.js';
import { readFileInRoot } from '../host/rootfs-path.js';
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
  async run(o, ctx) {
    const root = ctx.requireRootfs();
    const src = overlaySource(o.source, ctx.recipeDir);
    const { uid, gid } = await ownerIds(o.owner, async (f) => (await readFileInRoot(root, f))?.toString('utf8'));
    const count = await copyTreeIntoRoot(src, root, o.dest, { uid, gid, allow: o.allow });
    ctx.log(`copied ${count} entries from ${src} to ${o.dest} as ${uid}:${gid}`);
  },
  async imageEdits(o, ctx) {
    const src = overlaySource(o.source, ctx.recipeDir);
    const { uid, gid } = await ownerIds(o.owner, (f) => ctx.readFile(f));
    const dest = posix.resolve('/', o.dest);
    const edits: ImageEdit[] = [...(await missingParents(ctx, posix.join(dest, 'x')))];
    if (!edits.length && (await ctx.stat(dest))?.type === 'symlink') throw new NotEditable(`${dest} is a link in the image`);
    const walk = async (rel: string): Promise<void> => {
      for (const name of (await readdir(join(src, rel))).sort()) {
        const from = join(src, rel, name);
        const guest = posix.join(dest, rel, name);
        const st = await lstat(from);
        checkSpecial(from, st, o.allow);
        if ((st.isFile() && st.nlink > 1) || !(st.isFile() || st.isDirectory() || st.isSymbolicLink())) throw new NotEditable(`${from}: hard links and device nodes are copied on the tree`);
        const existing = await ctx.stat(guest);
        if (existing?.type === 'symlink') throw new NotEditable(`${guest} is a link in the image`);
        if (st.isDirectory()) {
          if (existing && existing.type !== 'directory') throw new UserError(`overlay: ${guest} exists in the rootfs and is not a directory`);
          if (!existing) edits.push({ kind: 'dir', path: guest, mode: st.mode, uid, gid });
          await walk(join(rel, name));
        } else if (st.isFile()) edits.push({ kind: 'file', path: guest, content: await readFile(from), mode: st.mode, uid, gid });
        else edits.push({ kind: 'symlink', path: guest, target: await readlink(from), uid, gid });
      }
    };
    await walk('');
    ctx.log(`${edits.length} entries from ${src} to ${dest} as ${uid}:${gid} (debugfs)`);
    return edits;
  },
};
