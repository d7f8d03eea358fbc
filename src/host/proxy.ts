/**
 * Proxies for the commands that fetch packages. The clean subprocess
 * environment (host/exec) carries no proxy; the bootstrap tools
 * (debootstrap, mmdebstrap) and the commands a `run` step runs in the chroot
 * (apt) get the caller's `http_proxy`, `https_proxy` and `no_proxy` (either
 * case), and the recipe's `apt_proxy` (a local package cache such as
 * apt-cacher-ng) as `http_proxy`. Only through the environment: nothing of it
 * is written into the image, and a proxy URL with credentials is a secret
 * (redacted in logs, the plan and the manifest).
 */
import { request } from 'node:http';
import { proxyUrlProblem } from '../model/values.js';
import { REDACTED, registerSecret } from './secrets.js';

/** The variables passed on from the caller's environment. */
export const PROXY_VARIABLES = ['http_proxy', 'https_proxy', 'no_proxy', 'HTTP_PROXY', 'HTTPS_PROXY', 'NO_PROXY'] as const;

export { proxyUrlProblem };

/** `url` with its user and password replaced by `***` (for the plan and messages). */
export function withoutCredentials(url: string): string {
  return url.replace(/^([a-z][\w+.-]*:\/\/)[^/@\s]*@/i, `$1${REDACTED}@`);
}

/** Register a proxy URL's credentials (and the URL that holds them) as secrets. */
export function registerProxySecrets(url: string | undefined): void {
  if (!url) return;
  const m = /^[a-z][\w+.-]*:\/\/([^/@\s]*)@/i.exec(url);
  if (!m) return;
  registerSecret(url);
  registerSecret(url.replace(/\/+$/, ''));
  registerSecret(m[1]);
  try {
    registerSecret(decodeURIComponent(m[1]!));
  } catch {
    // not percent-encoded text: the raw form is registered
  }
}

/** The proxy variables set (not empty) in `env`. */
export function callerProxyEnv(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of PROXY_VARIABLES) {
    const v = env[k];
    if (v) out[k] = v;
  }
  return out;
}

/**
 * The environment for commands that fetch packages: the caller's proxy
 * variables, and `aptProxy` (the recipe's apt_proxy) as http_proxy in both
 * cases, which it overrides. Its credentials are registered as secrets.
 */
export function fetchEnv(aptProxy?: string, env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const out = callerProxyEnv(env);
  for (const v of Object.values(out)) registerProxySecrets(v);
  if (aptProxy) {
    registerProxySecrets(aptProxy);
    out.http_proxy = aptProxy;
    out.HTTP_PROXY = aptProxy;
  }
  return out;
}

/** Whether `host` is listed in a no_proxy value (`*`, a name, `.domain` or `domain` suffix; ports ignored). */
export function bypassed(host: string, noProxy: string | undefined): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  for (const raw of (noProxy ?? '').split(/[,\s]+/)) {
    const entry = raw
      .trim()
      .toLowerCase()
      .replace(/:\d+$/, '')
      .replace(/^\*?\./, '.');
    if (!entry) continue;
    if (entry === '*') return true;
    const bare = entry.replace(/^\./, '');
    if (h === bare || h.endsWith(`.${bare}`)) return true;
  }
  return false;
}

/** The proxy a fetch of `url` goes through with the environment `env` (fetchEnv's), or undefined. */
export function proxyFor(url: string, env: Record<string, string | undefined>): string | undefined {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return undefined;
  }
  if (bypassed(u.hostname, env.no_proxy ?? env.NO_PROXY)) return undefined;
  const proxy = u.protocol === 'https:' ? (env.https_proxy ?? env.HTTPS_PROXY) : u.protocol === 'http:' ? (env.http_proxy ?? env.HTTP_PROXY) : undefined;
  return proxy || undefined;
}

/**
 * HEAD `url` (http) through the HTTP proxy `proxy`: its status code. A
 * failure rejects with the reason, never with the proxy's credentials.
 */
export function headThroughProxy(url: string, proxy: string, timeoutMs = 15000): Promise<number> {
  const p = new URL(proxy);
  const headers: Record<string, string> = { Host: new URL(url).host };
  if (p.username || p.password) headers['Proxy-Authorization'] = `Basic ${Buffer.from(`${decodeURIComponent(p.username)}:${decodeURIComponent(p.password)}`).toString('base64')}`;
  return new Promise((resolve, reject) => {
    const req = request({ host: p.hostname.replace(/^\[|\]$/g, ''), port: p.port || (p.protocol === 'https:' ? 443 : 80), method: 'HEAD', path: url, headers, timeout: timeoutMs }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer from the proxy ${withoutCredentials(proxy)} in ${timeoutMs / 1000} s`)));
    req.on('error', (e) => reject(new Error(`the proxy ${withoutCredentials(proxy)}: ${e.message}`)));
    req.end();
  });
}
