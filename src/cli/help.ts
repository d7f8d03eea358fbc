/**
 * What `--help` says besides arguments and options: examples and the
 * environment variables a command reads. Kept as data on the command so that
 * the man page and the README (scripts/docs.ts) print the same text.
 */
import type { Command } from 'commander';

export interface HelpDetails {
  /** Command lines, each with an optional comment: [command, what it does]. */
  examples?: [string, string?][];
  /** Environment variables the command reads: [name, meaning]. */
  env?: [string, string][];
  /** Paragraphs printed after the lists (the top-level help: exit codes). */
  notes?: string[];
}

const details = new WeakMap<Command, HelpDetails>();

/** Attach examples and environment variables to `c`'s --help. */
export function withDetails<C extends Command>(c: C, d: HelpDetails): C {
  details.set(c, d);
  c.addHelpText('after', detailsText(d));
  return c;
}

export function helpDetails(c: Command): HelpDetails {
  return details.get(c) ?? {};
}

function table(rows: [string, string][]): string[] {
  const width = Math.min(28, Math.max(...rows.map(([a]) => a.length)));
  return rows.map(([a, b]) => (a.length > width ? `  ${a}\n  ${''.padEnd(width)}  ${b}` : `  ${a.padEnd(width)}  ${b}`));
}

export function detailsText(d: HelpDetails): string {
  const parts: string[] = [];
  if (d.examples?.length) parts.push(['Examples:', ...d.examples.map(([cmd, what]) => (what ? `  ${cmd}\n      ${what}` : `  ${cmd}`))].join('\n'));
  if (d.env?.length) parts.push(['Environment:', ...table(d.env)].join('\n'));
  for (const n of d.notes ?? []) parts.push(n);
  return parts.length ? `\n${parts.join('\n\n')}\n` : '';
}

/** Environment variables several commands read. */
export const ENV = {
  vars: ['UMLBUILD_VAR_<NAME>', 'a recipe variable (--set wins; one naming no variable is a warning)'],
  epoch: ['SOURCE_DATE_EPOCH', 'build a directory-first recipe reproducibly, with this time'],
  cache: ['XDG_CACHE_HOME, HOME', 'the cache lives in $XDG_CACHE_HOME/umlbuild, else ~/.cache/umlbuild'],
  journal: ['UMLBUILD_JOURNAL_DIR', 'teardown journals (default /run/umlbuild as root, else $XDG_RUNTIME_DIR/umlbuild or ~/.cache/umlbuild/run)'],
  testPassword: ['UMLBUILD_TEST_PASSWORD', 'the password to log in with (else --login, the recipe, or a prompt)'],
  tmpdir: ['TMPDIR', 'passed on to the tools umlbuild runs'],
  proxy: ['http_proxy, https_proxy, no_proxy', 'passed on to debootstrap, mmdebstrap and run steps in the chroot (never into the image); --set apt_proxy=URL names a package cache'],
} satisfies Record<string, [string, string]>;
