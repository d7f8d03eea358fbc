/**
 * `debootstrap`: install a Debian base system into the rootfs. Without a
 * mirror, the host's own apt sources name it. Archived suites (`archived:
 * true`: buster) are not on current mirrors: they default to Debian's archive
 * and the removed-keys keyring, as debootstrap's own scripts for archived
 * releases declare them (steps/bootstrap-source). The mirror is checked for
 * the suite before anything is built. The rootfs must be empty (a new
 * filesystem's lost+found aside): the bootstrap never writes over a tree.
 * The tool gets the caller's http_proxy/https_proxy/no_proxy and the
 * recipe's `apt_proxy` in its environment (host/proxy), nothing in the tree.
 *
 * ```yaml
 * - step: debootstrap
 *   suite: bookworm
 *   variant: minbase          # optional: minbase | buildd | fakechroot
 *   mirror: ${mirror}         # optional; empty = from the host's apt sources
 *   components: [main]
 *   include: [systemd-sysv, ifupdown]
 *   exclude: []
 *   arch: amd64               # optional, default: the host's
 *   keyring: /usr/share/keyrings/debian-archive-keyring.gpg   # optional
 *   archived: false           # true: the suite left the current mirrors (archive mirror and keyring by default)
 *   backend: auto             # default: mmdebstrap when installed (faster; several mirrors, hooks; rootless builds), else debootstrap
 *   mirrors: []               # mmdebstrap: more apt sources ("deb URL suite comp" or URLs)
 *   hooks:                    # mmdebstrap: shell commands run at its hook points ("$1" = the tree)
 *     customize: ['echo built > "$1/etc/built-by"']
 * ```
 */
import { existsSync } from 'node:fs';
import { lchown, lstat, readdir } from 'node:fs/promises';
import { resolveInRoot } from '../host/rootfs-path.js';
import { UserError } from '../errors.js';
import { headThroughProxy, proxyFor, withoutCredentials } from '../host/proxy.js';
import { z } from 'zod';
import { bootstrapSource, describe } from './bootstrap-source.js';
import { cachedBootstrap } from './bootstrap-cache.js';
import { type Backend, chooseBackend, debootstrapArgs, mmdebstrapArgs, unsupported, type BootstrapOptions } from './bootstrap-args.js';
import { findToolSync } from '../host/tools.js';
import { toolVersion } from '../cache/tool-version.js';
import type { Step } from './types.js';

export { debootstrapArgs, mmdebstrapArgs };

const word = z.string().regex(/^[\w.+:~-]+$/, 'not a valid name');

const schema = z
  .object({
    suite: word,
    variant: z.enum(['minbase', 'buildd', 'fakechroot', 'default']).optional(),
    mirror: z.string().default(''),
    components: z.array(word).default(['main']),
    include: z.array(word).default([]),
    exclude: z.array(word).default([]),
    arch: word.optional(),
    keyring: z.string().optional(),
    /** A suite that has left the current mirrors: Debian's archive and its keyring by default. */
    archived: z.boolean().default(false),
    extra_args: z.array(z.string()).default([]),
    backend: z.enum(['auto', 'debootstrap', 'mmdebstrap']).default('auto'),
    mirrors: z.array(z.string().min(1)).default([]),
    hooks: z
      .object({
        setup: z.array(z.string()).default([]),
        extract: z.array(z.string()).default([]),
        essential: z.array(z.string()).default([]),
        customize: z.array(z.string()).default([]),
      })
      .strict()
      .default({ setup: [], extract: [], essential: [], customize: [] }),
  })
  .strict();

type Options = z.infer<typeof schema>;

/** The tool that runs: `auto` resolved on this host (bootstrap-args chooseBackend). */
export function backendOf(o: Options): Backend {
  return chooseBackend(o, (t) => findToolSync(t) !== undefined);
}

/** Whether the mirror has the suite: asked directly, or through the proxy the bootstrap will use (http only; an https proxy or mirror behind a proxy is left to the tool). */
async function releaseReachable(mirror: string, suite: string, env: Readonly<Record<string, string>> = {}): Promise<string | undefined> {
  if (!/^https?:\/\//.test(mirror)) return undefined;
  const url = `${mirror.replace(/\/+$/, '')}/dists/${suite}/Release`;
  const proxy = proxyFor(url, env);
  try {
    if (proxy) {
      if (!url.startsWith('http:') || !proxy.startsWith('http:')) return undefined;
      const status = await headThroughProxy(url, proxy);
      return status >= 200 && status < 400 ? undefined : `the mirror ${mirror} has no suite "${suite}" (HTTP ${status} for ${url} through the proxy ${withoutCredentials(proxy)})`;
    }
    const res = await fetch(url, { method: 'HEAD', signal: AbortSignal.timeout(15000), redirect: 'follow' });
    if (res.ok) return undefined;
    return `the mirror ${mirror} has no suite "${suite}" (HTTP ${res.status} for ${url})`;
  } catch (e) {
    return `cannot reach the mirror ${mirror} for suite "${suite}": ${(e as Error).cause ? String((e as { cause: unknown }).cause) : (e as Error).message}`;
  }
}

export const debootstrap: Step<Options> = {
  kind: 'debootstrap',
  summary: 'install a Debian base system (mirror from the host apt sources by default)',
  schema,
  traits: {
    requires: ['root'],
    provides: ['system'],
    // The mirror and keyring this host resolves, and the tool's version.
    async cacheInputs(o, ctx) {
      const tool = backendOf(o);
      const src = await bootstrapSource(o);
      return { mirror: src.mirror?.value, ...(src.keyring && !o.keyring ? { keyring: src.keyring.value } : {}), tool: await toolVersion(tool, ctx.exec, ctx.digestMemo) };
    },
  },
  title: (o) => `${backendOf(o) === 'mmdebstrap' ? 'mmdebstrap' : 'Debootstrap'} ${o.suite}${o.variant ? ` (${o.variant})` : ''}`,
  async verify(given, ctx) {
    const o = { ...given, backend: backendOf(given) };
    if (o.backend === 'mmdebstrap') ctx.requireRoot('mmdebstrap installs packages as root', { userns: true });
    else ctx.requireRoot(`debootstrap creates device nodes (without root: ${given.backend === 'auto' ? 'install mmdebstrap' : 'backend: mmdebstrap'} in a directory-first recipe)`);
    await ctx.requireTool(o.backend);
    await ctx.requireTool('zstd');
    for (const [key, why] of unsupported(o as BootstrapOptions)) ctx.problem(why, key);
    const src = await bootstrapSource(o);
    if (src.keyring && !existsSync(src.keyring.value)) ctx.problem(`keyring ${src.keyring.value} (${src.keyring.from}) does not exist${o.keyring ? '' : ' (package debian-archive-keyring)'}`, 'keyring');
    if (!src.mirror) return ctx.problem(src.problem ?? 'no mirror', 'mirror');
    // A warm build does not bootstrap: the mirror is not asked then.
    const problem = ctx.cached ? undefined : await releaseReachable(src.mirror.value, o.suite, ctx.fetchEnv);
    if (problem) ctx.problem(`${problem} (mirror from ${src.mirror.from}${o.mirror ? '' : '; --set mirror=URL gives another'})`, 'mirror');
  },
  async resolved(o) {
    const src = await bootstrapSource(o);
    const backend = backendOf(o);
    return {
      backend: o.backend === 'auto' ? `${backend} (auto: ${backend === 'mmdebstrap' ? 'installed' : 'mmdebstrap is not installed or cannot honour the options'})` : backend,
      mirror: describe(src.mirror, `none: ${src.problem}`),
      keyring: describe(src.keyring, `${backend}'s default`),
    };
  },
  async run(given, ctx) {
    const o = { ...given, backend: backendOf(given) };
    const root = ctx.requireRootfs();
    // debootstrap would unpack its packages through links already in the tree: it starts from an empty one.
    const present = (await readdir(root)).filter((n) => n !== 'lost+found');
    if (present.length) throw new UserError(`${o.backend}: the rootfs is not empty (${present.slice(0, 5).join(', ')}${present.length > 5 ? ', ...' : ''}): bootstrap into an empty tree, before the steps that fill it`);
    const src = await bootstrapSource(o);
    if (!src.mirror) throw new UserError(src.problem ?? 'no mirror');
    const mirror = src.mirror.value;
    ctx.facts.suite = o.suite;
    ctx.facts.mirror = mirror;
    const options = { ...o, keyring: src.keyring?.value };
    const argv = (o.backend === 'mmdebstrap' ? mmdebstrapArgs : debootstrapArgs)(options as BootstrapOptions, mirror, root);
    // Proxies reach the tool through its environment only (host/proxy): not its argv, not the tree, not the cache key.
    const env = { ...ctx.fetchEnv };
    if (!ctx.cache) {
      await ctx.exec(o.backend, argv, { env });
      return aptDirsToRoot(root);
    }
    // debootstrap keeps downloaded .debs in the cache too, so a cold bootstrap of another variant does not fetch them again.
    const extra = o.backend === 'debootstrap' ? [`--cache-dir=${await ctx.cache.debsDir()}`] : [];
    const bootstrap = () => ctx.exec(o.backend, [...extra, ...argv], { env }).then(() => undefined);
    // Memoized like the fast path's key: a cold build asks the (Perl) tool once, not twice.
    const version = await toolVersion(o.backend, ctx.exec, ctx.cache.digests);
    const { stdout: arch } = o.arch ? { stdout: o.arch } : await ctx.exec('dpkg', ['--print-architecture']);
    const { archived: _archived, ...fields } = options;
    await cachedBootstrap(ctx, { ...fields, tool: version, arch: arch.trim(), mirror }, root, bootstrap);
    await aptDirsToRoot(root);
  },
};

/**
 * apt's download directories owned by root, as the apt package ships them.
 * apt run by mmdebstrap gives them to `_apt` only when that user can reach
 * the tree (not below a 0700 directory), so a bootstrap, and the cache entry
 * made from it, would depend on where it ran. apt in the guest takes them
 * back when it next downloads.
 */
const APT_PARTIAL = ['/var/cache/apt/archives/partial', '/var/lib/apt/lists/partial'];
export async function aptDirsToRoot(root: string): Promise<void> {
  for (const path of APT_PARTIAL) {
    const host = await resolveInRoot(root, path, false).catch(() => undefined);
    const st = host ? await lstat(host).catch(() => undefined) : undefined;
    if (host && st?.isDirectory() && (st.uid !== 0 || st.gid !== 0)) await lchown(host, 0, 0);
  }
}
