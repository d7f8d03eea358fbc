/**
 * The Debian mirror of this host, read from its apt sources (deb822
 * `*.sources` and one-line `*.list`), for recipes that do not set one.
 * No mirror host name is ever written into umlbuild itself.
 */
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';

export interface AptSource {
  uri: string;
  suites: string[];
  components: string[];
  file: string;
}

/** Parse deb822 stanzas (`Types: deb`, `URIs:`, `Suites:`, `Components:`). */
export function parseDeb822(text: string, file = ''): AptSource[] {
  const out: AptSource[] = [];
  for (const stanza of text.split(/\n\s*\n/)) {
    const fields = new Map<string, string>();
    let last = '';
    for (const raw of stanza.split('\n')) {
      if (raw.startsWith('#')) continue;
      if (/^\s/.test(raw) && last) {
        fields.set(last, `${fields.get(last)} ${raw.trim()}`);
        continue;
      }
      const m = /^([\w-]+):\s*(.*)$/.exec(raw);
      if (m) {
        last = m[1]!.toLowerCase();
        fields.set(last, m[2]!.trim());
      }
    }
    if (!(fields.get('types') ?? '').split(/\s+/).includes('deb')) continue;
    if (/^(no|false)$/i.test(fields.get('enabled') ?? '')) continue;
    const words = (k: string) => (fields.get(k) ?? '').split(/\s+/).filter(Boolean);
    for (const uri of words('uris')) out.push({ uri, suites: words('suites'), components: words('components'), file });
  }
  return out;
}

/** Parse one-line `deb [opts] URI SUITE COMPONENT...` entries. */
export function parseSourcesList(text: string, file = ''): AptSource[] {
  const out: AptSource[] = [];
  for (const raw of text.split('\n')) {
    const line = raw
      .replace(/#.*/, '')
      .trim()
      .replace(/\[[^\]]*\]\s*/, '');
    const m = /^deb\s+(\S+)\s+(\S+)\s*(.*)$/.exec(line);
    if (m) out.push({ uri: m[1]!, suites: [m[2]!], components: m[3]!.split(/\s+/).filter(Boolean), file });
  }
  return out;
}

export async function readAptSources(etc = '/etc/apt'): Promise<AptSource[]> {
  const out: AptSource[] = [];
  const read = (f: string) => readFile(f, 'utf8').catch(() => '');
  out.push(...parseSourcesList(await read(join(etc, 'sources.list')), join(etc, 'sources.list')));
  const dir = join(etc, 'sources.list.d');
  const names = (await readdir(dir).catch(() => [] as string[])).sort();
  for (const n of names) {
    const f = join(dir, n);
    if (n.endsWith('.sources')) out.push(...parseDeb822(await read(f), f));
    else if (n.endsWith('.list')) out.push(...parseSourcesList(await read(f), f));
  }
  return out;
}

const isSideSuite = (s: string) => /-(security|updates|backports|proposed-updates)$|\/updates$/.test(s);

/**
 * Choose the mirror for `suite`: an entry that lists the suite itself, else
 * the main (non-security, non-updates) entry for the host's own release.
 */
export function chooseMirror(sources: AptSource[], suite?: string, hostCodename?: string): string | undefined {
  const main = sources.filter((s) => s.components.includes('main') && s.suites.some((x) => !isSideSuite(x)));
  const listing = (name?: string) => (name ? main.find((s) => s.suites.includes(name)) : undefined);
  const pick = listing(suite) ?? listing(hostCodename) ?? main[0];
  return pick?.uri.replace(/\/+$/, '');
}

async function hostCodename(): Promise<string | undefined> {
  const text = await readFile('/etc/os-release', 'utf8').catch(() => '');
  return /^VERSION_CODENAME=["']?([\w-]+)/m.exec(text)?.[1];
}

export async function detectMirror(suite?: string, etc = '/etc/apt'): Promise<string | undefined> {
  return chooseMirror(await readAptSources(etc), suite, await hostCodename());
}
