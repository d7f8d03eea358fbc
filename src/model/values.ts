/**
 * Values are validated by what they feed. Each kind of value that reaches a
 * file, a path or a script is a zod schema here, used by the fields that take
 * it (step options, test:, launch:, output:) and by the built-in templates,
 * so the check follows the field, whatever variable fills it.
 */
import { isIP } from 'node:net';
import { z } from 'zod';

/** NUL, newline, carriage return or another control character. */
const CONTROL = /[\x00-\x1f\x7f]/;

export function isHostname(s: string): boolean {
  if (!s || s.length > 253) return false;
  return s.split('.').every((l) => /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i.test(l));
}

/** A name in a directory: no `/`, not `.` or `..`, no control characters. */
export function isFileName(s: string): boolean {
  return s.length > 0 && s.length <= 255 && !s.includes('/') && s !== '.' && s !== '..' && !CONTROL.test(s);
}

/** A netmask: dotted (255.255.255.0), an address, or a prefix length (24). */
export function isNetmask(s: string): boolean {
  return isIP(s) !== 0 || (/^\d{1,3}$/.test(s) && Number(s) <= 128);
}

const B64 = '[./0-9A-Za-z]';
const ROUNDS = '(rounds=\\d{1,9}\\$)?';
const CRYPT: RegExp[] = [
  new RegExp(`^\\$1\\$${B64}{0,8}\\$${B64}{22}$`), // MD5
  new RegExp(`^\\$5\\$${ROUNDS}${B64}{0,16}\\$${B64}{43}$`), // SHA-256
  new RegExp(`^\\$6\\$${ROUNDS}${B64}{0,16}\\$${B64}{86}$`), // SHA-512
  new RegExp(`^\\$g?y\\$${B64}+\\$${B64}*\\$${B64}{43}$`), // yescrypt, gost-yescrypt
  new RegExp(`^\\$7\\$${B64}{11,}\\$${B64}{43}$`), // scrypt
  new RegExp(`^\\$2[abxy]\\$\\d\\d\\$${B64}{53}$`), // bcrypt
  new RegExp(`^${B64}{13}$`), // DES
];

/** A crypt(3) string as /etc/shadow holds it (or a lock: `!`, `*`, `!$6$...`). */
export function isCryptHash(s: string): boolean {
  if (CONTROL.test(s) || s.includes(':')) return false;
  if (/^[!*]/.test(s)) return s.length === 1 || /^!+$/.test(s) || isCryptHash(s.replace(/^!+/, ''));
  return CRYPT.some((re) => re.test(s));
}

/** A single line: no NUL, newline or other control character. */
export const lineValue = z.string().refine((s) => !CONTROL.test(s), 'must be one line (no newline or control character)');
export const hostnameValue = z.string().refine(isHostname, 'not a valid hostname (RFC 1123: dot-separated labels of letters, digits and "-", each at most 63 long, 253 in all)');
export const addressValue = z.string().refine((s) => isIP(s) !== 0, 'not an IP address');
export const netmaskValue = z.string().refine(isNetmask, 'not a netmask (255.255.255.0 or a prefix length)');
export const fileNameValue = z.string().refine(isFileName, 'must be a file name (no "/", not "." or "..", no newline or control character)');
/** A network device name in the guest (vec0, eth0). */
export const deviceValue = z.string().regex(/^[A-Za-z0-9][\w.-]{0,14}$/, 'not a network device name (letters, digits, _ . -, at most 15)');
export const passwordValue = z.string().refine((s) => !CONTROL.test(s) && !s.includes(':'), 'a password may hold no newline, control character or ":"');
/**
 * Why `s` is not an HTTP proxy URL (`http://[user:pass@]host[:port]`), or
 * undefined. It goes into a subprocess's environment only, but is still held
 * to one plain line: no whitespace, quotes, backslash or control character,
 * no path, query or fragment; http or https only.
 */
export function proxyUrlProblem(s: string): string | undefined {
  if (CONTROL.test(s)) return 'must be one line (no newline or control character)';
  if (/[\s"'`\\<>{}|^]/.test(s)) return 'may hold no space, quote, backslash or <>{}|^';
  let url: URL;
  try {
    url = new URL(s);
  } catch {
    return 'is not a URL (http://host:port)';
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return `must be an http:// or https:// URL, not ${url.protocol}`;
  if (!url.hostname) return 'names no host';
  if (url.pathname !== '/' || url.search || url.hash || !/^https?:\/\/[^/?#]+\/?$/.test(s)) return 'must be only http(s)://host:port (no path, query or fragment)';
  return undefined;
}

export const proxyUrlValue = z.string().superRefine((s, ctx) => {
  const problem = proxyUrlProblem(s);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});
export const cryptHashValue = z.string().refine(isCryptHash, 'does not look like a crypt(3) hash (e.g. $6$salt$...)');

/** A schema that also accepts the empty string (a value that is not set). */
export const orEmpty = (s: z.ZodType<string>) =>
  z.string().superRefine((v, ctx) => {
    if (v !== '') for (const i of s.safeParse(v).error?.issues ?? []) ctx.addIssue({ code: 'custom', message: i.message });
  });

/** What the built-in templates read from the variables, and what kind each is. */
export const TEMPLATE_INPUTS: Record<string, Record<string, z.ZodType>> = {
  hostname: { hostname: hostnameValue },
  hosts: { hostname: hostnameValue, address: orEmpty(addressValue) },
  interfaces: { netdev: deviceValue, address: orEmpty(addressValue), netmask: orEmpty(netmaskValue), gateway: orEmpty(addressValue), network: lineValue },
  fstab: {},
};
