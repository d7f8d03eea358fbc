/**
 * `password`: set passwords inside the rootfs; secrets go through stdin
 * only: never argv, logs, the plan or the manifest. Each user takes a
 * plaintext `password`, an already-crypted `hash`, `password_env` (the name
 * of an environment variable) or `password_file` (first line of a file).
 * Empty values count as not given, so recipes can offer both a password and
 * a hash variable. `method` picks the hash for plaintext (SHA512, the default,
 * checks in a fraction of yescrypt's time under UML). SHA512, SHA256 and MD5
 * are crypted on the host (openssl passwd, stdin) and written into the
 * image's /etc/shadow as a file edit (mode and owner kept; no chroot, so
 * images without chpasswd — busybox — work too, and a warm build makes the
 * same edit with debugfs); only YESCRYPT and DES of a plaintext go to the
 * image's chpasswd in the chroot with -c.
 *
 * ```yaml
 * - step: password
 *   method: SHA512            # optional: SHA512 | SHA256 | YESCRYPT | ... (chpasswd -c)
 *   users:
 *     - user: root
 *       password: ${root_password}
 *       hash: ${root_password_hash}   # wins when not empty
 * ```
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { isAbsolute, resolve } from 'node:path';
import { z } from 'zod';
import { openChroot } from '../host/chroot.js';
import { registerSecret } from '../host/secrets.js';
import type { EditContext, Step, StepContext } from './types.js';
import { type FileEdit, file as fileEdit, NotEditable } from '../edits/model.js';
import { applyTreeEdits, treeTarget } from '../edits/tree.js';
import { editContext } from './file-edits.js';
import { cryptHashValue, orEmpty, passwordValue } from '../model/values.js';

const user = z
  .object({
    user: z.string().regex(/^[a-z_][a-z0-9_-]*\$?$/, 'not a valid user name'),
    password: passwordValue.optional(),
    hash: orEmpty(cryptHashValue).optional(),
    password_env: z.string().optional(),
    password_file: z.string().optional(),
  })
  .strict()
  .refine((u) => [u.password, u.hash, u.password_env, u.password_file].some((v) => v), {
    message: 'give one of password, hash, password_env or password_file',
  });

const schema = z
  .object({
    method: z.enum(['SHA512', 'SHA256', 'MD5', 'YESCRYPT', 'DES']).optional(),
    users: z.array(user).min(1),
  })
  .strict();

type Options = z.infer<typeof schema>;
type User = Options['users'][number];

async function secretOf(u: User, recipeDir: string): Promise<{ value: string; crypted: boolean }> {
  const got = await givenSecret(u, recipeDir);
  // Read at run time (environment, file): checked like a password field, as it is written into a line of chpasswd's input.
  if (!got.crypted && !passwordValue.safeParse(got.value).success) throw new Error(`the password of ${u.user} holds a newline, control character or ":"`);
  return got;
}

async function givenSecret(u: User, recipeDir: string): Promise<{ value: string; crypted: boolean }> {
  if (u.hash) return { value: u.hash, crypted: true };
  if (u.password) return { value: u.password, crypted: false };
  if (u.password_env) {
    const v = process.env[u.password_env];
    if (!v) throw new Error(`environment variable ${u.password_env} (password of ${u.user}) is not set`);
    return { value: v, crypted: false };
  }
  const file = isAbsolute(u.password_file!) ? u.password_file! : resolve(recipeDir, u.password_file!);
  const v = (await readFile(file, 'utf8')).split('\n')[0] ?? '';
  if (!v) throw new Error(`password file ${file} is empty`);
  return { value: v, crypted: false };
}

const OPENSSL_METHOD: Record<string, string> = { SHA512: '-6', SHA256: '-5', MD5: '-1' };
const SALT_ALPHABET = './0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** A salt that depends only on its inputs (reproducible builds: the same hash each time). */
export function derivedSalt(user: string, password: string, epoch: number): string {
  const digest = createHash('sha256').update(`umlbuild-salt\0${user}\0${password}\0${epoch}`).digest();
  return [...digest.subarray(0, 16)].map((b) => SALT_ALPHABET[b % 64]).join('');
}

/** Plaintext through openssl (stdin only): a derived salt when reproducible, else a random one. */
async function cryptHere(ctx: Pick<StepContext, 'exec'>, method: string, user: string, password: string, epoch?: number): Promise<string> {
  const salt = epoch === undefined ? [] : ['-salt', derivedSalt(user, password, epoch)];
  const { stdout } = await ctx.exec('openssl', ['passwd', OPENSSL_METHOD[method]!, ...salt, '-stdin'], { input: `${password}\n`, onLine: () => undefined });
  return stdout.trim();
}

/**
 * Every user's crypt hash, crypted on the host (given hashes as they are),
 * or undefined when the method needs the image's chpasswd. Secrets and
 * hashes are registered for masking.
 */
async function hostHashes(o: Options, ctx: Pick<StepContext, 'exec' | 'recipeDir' | 'reproducible'>): Promise<Map<string, string> | undefined> {
  const method = o.method ?? 'SHA512';
  const epoch = ctx.reproducible?.epoch;
  if (!OPENSSL_METHOD[method] && epoch !== undefined) throw new Error(`reproducible builds crypt passwords with a fixed salt, which works for SHA512, SHA256 or MD5, not ${method}`);
  const secrets = await Promise.all(o.users.map(async (u) => ({ user: u.user, ...(await secretOf(u, ctx.recipeDir)) })));
  for (const e of secrets) registerSecret(e.value);
  if (!OPENSSL_METHOD[method] && secrets.some((e) => !e.crypted)) return undefined;
  const hashes = new Map<string, string>();
  for (const e of secrets) hashes.set(e.user, e.crypted ? e.value : await cryptHere(ctx, method, e.user, e.value, epoch));
  for (const h of hashes.values()) registerSecret(h);
  return hashes;
}

/** The "last changed" day written into /etc/shadow: today, or the reproducible epoch's. */
const changeDay = (epoch?: number) => Math.floor((epoch ?? Date.now() / 1000) / 86400);

/** /etc/shadow with new hashes for `hashes` (user → hash) and today's (or the epoch's) day as last change. */
export function editShadow(text: string, hashes: Map<string, string>, day: number): string {
  const seen = new Set<string>();
  const out = text.split('\n').map((line) => {
    const f = line.split(':');
    const hash = hashes.get(f[0]!);
    if (hash === undefined || f.length < 3) return line;
    seen.add(f[0]!);
    f[1] = hash;
    f[2] = String(day);
    return f.join(':');
  });
  const missing = [...hashes.keys()].filter((u) => !seen.has(u));
  if (missing.length) throw new Error(`no user ${missing.join(', ')} in the image's /etc/shadow`);
  return out.join('\n');
}

/** The new /etc/shadow (mode and owner kept) with the host-crypted `hashes`. */
async function shadowEdits(ctx: EditContext, hashes: Map<string, string>): Promise<FileEdit[]> {
  const st = await ctx.stat('/etc/shadow');
  const shadow = st?.type === 'regular' ? await ctx.readFile('/etc/shadow') : undefined;
  if (shadow === undefined || !st) throw new Error('the rootfs has no /etc/shadow file to set passwords in');
  ctx.log(`setting ${hashes.size} password(s) in /etc/shadow (crypted on the host)`);
  return [fileEdit('/etc/shadow', editShadow(shadow, hashes, changeDay(ctx.reproducible?.epoch)), { mode: st.mode & 0o7777, owner: { uid: st.uid, gid: st.gid }, link: 'follow' })];
}

async function setPasswords(o: Options, ctx: StepContext, root: string): Promise<void> {
  // SHA512, SHA256, MD5 (or given hashes): written into /etc/shadow; no chroot, no chpasswd in the image needed (busybox has none).
  const hashes = await hostHashes(o, ctx);
  if (hashes) {
    await applyTreeEdits(root, await shadowEdits(editContext(ctx, treeTarget(root)), hashes), { signal: ctx.signal });
    return;
  }
  // YESCRYPT or DES: the image's chpasswd crypts them.
  const entries = await Promise.all(o.users.map(async (u) => ({ user: u.user, ...(await secretOf(u, ctx.recipeDir)) })));
  const session = await openChroot(root, ctx.teardown, { signal: ctx.signal });
  try {
    for (const crypted of [true, false]) {
      const lines = entries.filter((e) => e.crypted === crypted).map((e) => `${e.user}:${e.value}\n`);
      if (!lines.length) continue;
      const args = crypted ? ['-e'] : ['-c', o.method!];
      ctx.log(`$ chroot ${root} chpasswd ${args.join(' ')} (${lines.length} user(s) on stdin)`);
      await session.run('chpasswd', args, { input: lines.join('') });
    }
  } finally {
    await session.close();
  }
}

export const password: Step<Options> = {
  kind: 'password',
  summary: 'set user passwords: crypted on the host into /etc/shadow (chpasswd in the chroot for YESCRYPT, DES); secrets on stdin only',
  schema,
  traits: {
    requires: ['root'],
    fastPathBlocker: (o) => (['SHA512', 'SHA256', 'MD5'].includes(o.method ?? 'SHA512') ? undefined : `only chpasswd in the image crypts ${o.method}`),
  },
  secretKeys: ['password', 'hash'],
  title: (o) => `Set password${o.users.length > 1 ? 's' : ''} for ${o.users.map((u) => u.user).join(', ')}`,
  async verify(o, ctx) {
    ctx.requireRoot('files in the image belong to root', { userns: true });
    if (OPENSSL_METHOD[o.method ?? 'SHA512']) await ctx.requireTool('openssl');
    o.users.forEach((u, i) => {
      if (u.password_env && !u.hash && !u.password && !process.env[u.password_env]) {
        ctx.problem(`environment variable ${u.password_env} is not set`, `users[${i}].password_env`);
      }
    });
  },
  async run(o, ctx) {
    await setPasswords(o, ctx, ctx.requireRootfs());
  },
  /** Only for SHA512, SHA256, MD5 or given hashes: YESCRYPT and DES need the image's chpasswd (NotEditable). */
  async edits(o, ctx) {
    const hashes = await hostHashes(o, ctx);
    if (!hashes) throw new NotEditable(`crypting ${o.method} needs chpasswd in the image`);
    return shadowEdits(ctx, hashes);
  },
};
