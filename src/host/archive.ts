/**
 * Debian releases that have left the current mirrors (buster) live on
 * Debian's archive for end-of-life releases, signed with keys that
 * debian-archive-keyring keeps in its removed-keys file. umlbuild writes
 * neither address nor path in itself: debootstrap's own scripts for archived
 * Debian releases (etch, lenny, squeeze, ...) declare both, as
 * `default_mirror <the archive URL>` next to
 * `keyring /usr/share/keyrings/debian-archive-removed-keys.gpg`, and are
 * updated with debootstrap. So both are read from there, and every caller is
 * told which file said so.
 */
import { lstat, readdir, readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';

/** A value and where it came from (for `--dry-run` and error messages). */
export interface Resolved {
  value: string;
  from: string;
}

export interface ArchiveDefaults {
  mirror?: Resolved;
  keyring?: Resolved;
  /** Why there is no archive mirror. */
  problem?: string;
}

/** The keyring file debian-archive-keyring keeps the keys of removed (archived) releases in. */
export const REMOVED_KEYS_NAME = 'debian-archive-removed-keys.gpg';

/**
 * debootstrap's scripts directory. UMLBUILD_TEST_DEBOOTSTRAP_SCRIPTS exists
 * for the unit tests only (a fake scripts directory): it changes where the
 * default is read, never a mirror a recipe or `--set` gives.
 */
export function debootstrapScriptsDir(): string {
  return process.env.UMLBUILD_TEST_DEBOOTSTRAP_SCRIPTS || '/usr/share/debootstrap/scripts';
}

/** The top-level `default_mirror` and `keyring` declarations of one debootstrap script. */
export function parseDebootstrapScript(text: string): { mirror?: string; keyring?: string } {
  // Unindented lines only: Ubuntu's scripts set default_mirror inside `case` branches per architecture.
  return {
    mirror: /^default_mirror[ \t]+(\S+)[ \t]*$/m.exec(text)?.[1],
    keyring: /^keyring[ \t]+(\S+)[ \t]*$/m.exec(text)?.[1],
  };
}

/**
 * The archive mirror and keyring from the first (by name) regular debootstrap
 * script whose keyring is Debian's removed-keys file and that names a mirror.
 */
export async function archiveDefaults(dir = debootstrapScriptsDir()): Promise<ArchiveDefaults> {
  const names = await readdir(dir).catch(() => undefined);
  if (!names) return { problem: `no debootstrap scripts in ${dir} (package debootstrap)` };
  for (const name of names.sort()) {
    const file = join(dir, name);
    const st = await lstat(file).catch(() => undefined);
    if (!st?.isFile() || st.size > 1 << 20) continue;
    const s = parseDebootstrapScript(await readFile(file, 'utf8').catch(() => ''));
    if (!s.mirror || !s.keyring || basename(s.keyring) !== REMOVED_KEYS_NAME || !/^https?:\/\//.test(s.mirror)) continue;
    const from = `${file}, debootstrap's script for archived Debian releases`;
    return { mirror: { value: s.mirror.replace(/\/+$/, ''), from: `default_mirror in ${from}` }, keyring: { value: s.keyring, from: `keyring in ${from}` } };
  }
  return { problem: `no script in ${dir} names Debian's archive (default_mirror beside keyring .../${REMOVED_KEYS_NAME})` };
}
