/**
 * Secret values known to this process (passwords, hashes). Anything printed,
 * logged or written to the manifest goes through `redact` first.
 */
const secrets = new Set<string>();

/**
 * Secrets this short (such as a default password "root") are hidden where
 * umlbuild knows the field (plan, manifest); masking them in free text would
 * also mask every "rootfs" and "chroot" in the log.
 */
export const MIN_TEXT_SECRET = 6;

export function registerSecret(value: unknown): void {
  if (typeof value === 'string' && value.length >= MIN_TEXT_SECRET) secrets.add(value);
}

export const REDACTED = '***';

export function redact(text: string): string {
  let out = text;
  // Longest first, so a secret that contains another is hidden whole.
  for (const s of [...secrets].sort((a, b) => b.length - a.length)) {
    out = out.split(s).join(REDACTED);
  }
  return out;
}
