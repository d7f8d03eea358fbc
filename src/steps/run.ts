/**
 * `run`: run a command or a script inside the chroot, with /proc, /sys, /dev
 * and /dev/pts mounted and a policy-rc.d that stops services from starting.
 * Everything mounted for it is unmounted when it ends. `chroot: false` runs
 * on the host instead, with ROOTFS (and IMAGE) in the environment. Commands
 * in the chroot also get the proxies (the caller's http_proxy, https_proxy,
 * no_proxy and the recipe's `apt_proxy`), so apt fetches through them.
 *
 * ```yaml
 * - step: run
 *   command: apt-get install -y --no-install-recommends less   # via /bin/sh -c
 * - step: run
 *   script: scripts/setup.sh        # copied in, run, removed
 *   env: { FOO: bar }
 * ```
 */
import { RUN_ID } from '../host/run-id.js';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { removeInRoot } from '../host/rootfs-path.js';
import { isAbsolute, resolve } from 'node:path';
import { z } from 'zod';
import { openChroot } from '../host/chroot.js';
import type { Step } from './types.js';
import { createHash } from 'node:crypto';

const schema = z
  .object({
    command: z.string().min(1).optional(),
    script: z.string().min(1).optional(),
    argv: z.array(z.string()).min(1).optional(),
    env: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/), z.union([z.string(), z.number(), z.boolean()]).transform(String)).default({}),
    chroot: z.boolean().default(true),
  })
  .strict()
  .refine((o) => [o.command, o.script, o.argv].filter(Boolean).length === 1, { message: 'give exactly one of command, script or argv' });

type Options = z.infer<typeof schema>;

const scriptPath = (s: string, dir: string) => (isAbsolute(s) ? s : resolve(dir, s));

export const run: Step<Options> = {
  kind: 'run',
  summary: 'run a command or script inside the chroot (or on the host)',
  schema,
  traits: {
    requires: ['root'],
    inVariant: 'guest',
    cacheInputs: async (o, ctx) =>
      o.script
        ? {
            script: createHash('sha256')
              .update(await readFile(scriptPath(o.script, ctx.recipeDir)))
              .digest('hex'),
          }
        : null,
  },
  title: (o) => `Run ${o.command ?? o.script ?? o.argv!.join(' ')}`.slice(0, 80),
  async verify(o, ctx) {
    if (o.chroot) ctx.requireRoot('chroot needs root', { userns: true });
    if (o.script && !existsSync(scriptPath(o.script, ctx.recipeDir))) ctx.problem(`script ${scriptPath(o.script, ctx.recipeDir)} does not exist`, 'script');
  },
  async run(o, ctx) {
    const root = ctx.requireRootfs();
    const env = { ...o.env, ...(o.chroot ? {} : { ROOTFS: root, IMAGE: ctx.image }) };
    const opts = { env, signal: ctx.signal, onLine: ctx.log, onCommand: (l: string) => ctx.log(`$ ${l}`) };
    if (!o.chroot) {
      const [cmd, ...args] = o.argv ?? (o.script ? ['/bin/sh', scriptPath(o.script, ctx.recipeDir)] : ['/bin/sh', '-c', o.command!]);
      await ctx.exec(cmd!, args, { env });
      return;
    }
    const session = await openChroot(root, ctx.teardown, opts);
    // The commands in the chroot (apt) fetch through the caller's proxies and the recipe's apt_proxy: by environment, never a file in the image.
    const fetching = { env: { ...ctx.fetchEnv, ...env } };
    const inGuest = `/tmp/umlbuild-script-${RUN_ID}`;
    try {
      if (o.argv) await session.run(o.argv[0]!, o.argv.slice(1), fetching);
      else if (o.command) await session.run('/bin/sh', ['-c', o.command], fetching);
      else {
        await ctx.writeFile(inGuest, await readFile(scriptPath(o.script!, ctx.recipeDir)), { mode: 0o755 });
        try {
          await session.run('/bin/sh', [inGuest], fetching);
        } finally {
          // Resolved again: the script may have changed links in the tree.
          await removeInRoot(root, inGuest);
        }
      }
    } finally {
      await session.close();
    }
  },
};
