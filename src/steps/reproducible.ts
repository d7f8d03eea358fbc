/**
 * `reproducible`: make the tree the same from build to build, so that two
 * builds of a recipe with the same package versions give byte-identical
 * images. `reproducible: true` in a recipe, or SOURCE_DATE_EPOCH in the
 * environment, inserts it just before `pack` (it is not written by hand).
 *
 * - removes what belongs to the build host or the build moment: machine-id
 *   (left empty: systemd makes one at first boot), resolv.conf, ssh host keys
 *   (regenerated before sshd starts), logs, apt lists and caches, backup
 *   files of passwd/shadow, ldconfig's aux cache;
 * - clamps password ages in /etc/shadow to the epoch's day;
 * - rewrites the `.updated` stamps to the clamped /usr time;
 * - clamps every mtime to the epoch and sets every atime to it.
 * `pack` then uses a UUID and hash seed derived from the recipe and epoch,
 * and sets the inode change times in the image (see pack).
 */
import { readdir, rm, stat, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { readFileInRoot, removeInRoot, resolveInRoot } from '../host/rootfs-path.js';
import type { Step, StepContext } from './types.js';

const schema = z.object({ epoch: z.number().int().positive() }).strict();
type Options = z.infer<typeof schema>;

/** Paths (inside the root) removed outright, when present. */
const REMOVE = [
  '/etc/resolv.conf',
  '/var/lib/dbus/machine-id',
  '/etc/passwd-',
  '/etc/group-',
  '/etc/shadow-',
  '/etc/gshadow-',
  '/etc/subuid-',
  '/etc/subgid-',
  '/var/cache/ldconfig/aux-cache',
  '/var/cache/debconf/config.dat-old',
  '/var/cache/debconf/templates.dat-old',
  '/var/lib/dpkg/status-old',
  '/var/lib/dpkg/diversions-old',
  '/var/lib/dpkg/statoverride-old',
  '/root/.bash_history',
];
/** Directories emptied (the directory itself stays). */
const EMPTY = ['/var/lib/apt/lists', '/var/cache/apt', '/tmp', '/var/tmp', '/var/log/journal'];

/** Days since 1970 in /etc/shadow's third field. */
export function clampShadow(text: string, epoch: number): string {
  const day = Math.floor(epoch / 86400);
  return text
    .split('\n')
    .map((line) => {
      const f = line.split(':');
      if (f.length < 3 || !/^\d+$/.test(f[2]!) || Number(f[2]) <= day) return line;
      f[2] = String(day);
      return f.join(':');
    })
    .join('\n');
}

async function emptyDir(dir: string, keep: (name: string) => boolean): Promise<void> {
  for (const name of await readdir(dir).catch(() => [] as string[])) if (!keep(name)) await rm(join(dir, name), { recursive: true, force: true });
}

/** Truncate every regular file under /var/log, keeping the files and their owners. */
async function truncateLogs(dir: string): Promise<void> {
  for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const p = join(dir, e.name);
    if (e.isDirectory()) await truncateLogs(p);
    else if (e.isFile()) await truncate(p, 0);
  }
}

async function sshKeys(root: string, ctx: StepContext): Promise<void> {
  const dir = await resolveInRoot(root, '/etc/ssh');
  const keys = (await readdir(dir).catch(() => [] as string[])).filter((n) => n.startsWith('ssh_host_'));
  if (!keys.length) return;
  for (const k of keys) await rm(join(dir, k), { force: true });
  await ctx.writeFile('/etc/systemd/system/ssh.service.d/umlbuild-host-keys.conf', '# umlbuild: host keys are made at first start, not shipped in the image\n[Service]\nExecStartPre=/usr/bin/ssh-keygen -A\n');
  ctx.log(`removed ${keys.length} ssh host key files (ssh-keygen -A makes them before sshd starts)`);
}

export const reproducible: Step<Options> = {
  kind: 'reproducible',
  summary: 'strip host- and time-specific files and clamp times (inserted by reproducible: true)',
  schema,
  traits: { requires: ['root'], leavesEdits: true },
  hidden: true,
  title: (o) => `Make the tree reproducible (SOURCE_DATE_EPOCH=${o.epoch})`,
  async verify(_o, ctx) {
    await ctx.requireTool('find');
    await ctx.requireTool('touch');
    await ctx.requireTool('openssl'); // password steps crypt with a derived salt
    await ctx.requireTool('debugfs'); // pack sets inode times
  },
  async run(o, ctx) {
    const root = ctx.requireRootfs();
    const inRoot = (p: string) => resolveInRoot(root, p);
    // A link is removed itself, never what it points to.
    for (const p of REMOVE) await removeInRoot(root, p);
    /** Rewrite a file that exists, keeping its mode and owner. */
    const rewrite = async (p: string, change: (text: string) => string) => {
      const path = await inRoot(p);
      const st = await stat(path).catch(() => undefined);
      const text = await readFileInRoot(root, p);
      if (!st?.isFile() || !text) return;
      await ctx.writeFile(p, change(text.toString('utf8')), { mode: st.mode & 0o7777, uid: st.uid, gid: st.gid });
    };
    for (const d of EMPTY) await emptyDir(await inRoot(d), (n) => n === 'partial' || n === 'archives' || n === 'lock');
    await emptyDir(await inRoot('/var/cache/apt/archives'), (n) => n === 'partial' || n === 'lock');
    await truncateLogs(await inRoot('/var/log'));
    await rewrite('/etc/machine-id', () => '');
    await sshKeys(root, ctx);
    await rewrite('/etc/shadow', (text) => clampShadow(text, o.epoch));
    for (const stamp of ['/etc/.updated', '/var/.updated']) await rewrite(stamp, (text) => text.replace(/^TIMESTAMP_NSEC=\d+$/m, `TIMESTAMP_NSEC=${o.epoch}000000000`));
    const date = `@${o.epoch}`;
    // Newer than the epoch: clamped; older (package files): kept. Every atime: the epoch.
    await ctx.exec('find', [root, '-xdev', '-newermt', date, '-exec', 'touch', '--no-dereference', '--date', date, '{}', '+']);
    await ctx.exec('find', [root, '-xdev', '-exec', 'touch', '--no-dereference', '--time=atime', '--date', date, '{}', '+']);
  },
};
