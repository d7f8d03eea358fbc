/**
 * The mirror and keyring a bootstrap step uses, and where each came from: the
 * step's options (the recipe's `mirror`/`keyring`, `--set mirror=` included)
 * win; else an archived suite takes Debian's archive and the removed-keys
 * keyring as debootstrap's scripts declare them (host/archive); else the
 * mirror comes from this host's apt sources and debootstrap picks its own
 * keyring. One function for verify, run, the cache key and `--dry-run`.
 */
import { archiveDefaults, type Resolved } from '../host/archive.js';
import { detectMirror } from '../host/mirror.js';

export interface BootstrapSource {
  mirror?: Resolved;
  keyring?: Resolved;
  /** Why there is no mirror. */
  problem?: string;
}

export async function bootstrapSource(o: { suite: string; mirror?: string; keyring?: string; archived?: boolean }): Promise<BootstrapSource> {
  const given = (value: string, key: string): Resolved => ({ value, from: `the step's ${key} option` });
  if (o.archived) {
    const archive = await archiveDefaults();
    const keyring = o.keyring ? given(o.keyring, 'keyring') : archive.keyring;
    if (o.mirror) return { mirror: given(o.mirror, 'mirror'), keyring };
    if (!archive.mirror) return { keyring, problem: `${o.suite} is archived (no longer on current Debian mirrors) and no archive mirror was found: ${archive.problem}; set the recipe's mirror variable (--set mirror=URL)` };
    return { mirror: { ...archive.mirror, from: `${archive.mirror.from} (${o.suite} is archived)` }, keyring };
  }
  const keyring = o.keyring ? given(o.keyring, 'keyring') : undefined;
  if (o.mirror) return { mirror: given(o.mirror, 'mirror'), keyring };
  const host = await detectMirror(o.suite);
  if (!host) return { keyring, problem: 'no mirror given and none found in /etc/apt/sources.list or /etc/apt/sources.list.d/*.sources' };
  return { mirror: { value: host, from: "this host's apt sources" }, keyring };
}

/** `value (from)` for the plan text. */
export function describe(r: Resolved | undefined, otherwise: string): string {
  return r ? `${r.value} (${r.from})` : otherwise;
}
