/**
 * Shell completion: `umlbuild completion bash|zsh|fish` prints a script made
 * from the commands and options the command line declares (handed in as a
 * spec by cli/completion.ts), the shipped recipes and the step kinds.
 */
import { stepKinds } from '../steps/index.js';
import { shippedNames } from '../recipe/shipped.js';

import type { Shell } from '../model/shells.js';

export { SHELLS, type Shell } from '../model/shells.js';

/** What a value or positional argument completes to. */
export type Completes = 'recipe' | 'path' | 'dir' | 'step' | 'none' | readonly string[];

export interface CompletionOption {
  long?: string;
  short?: string;
  description: string;
  /** Absent: a flag that takes no value. */
  value?: Completes;
}

export interface CompletionCommand {
  name: string;
  description: string;
  options: CompletionOption[];
  /** The first positional argument. */
  argument: Completes;
  subcommands?: CompletionCommand[];
}

export interface CompletionSpec {
  /** Options of the program itself (--help, --version, -v). */
  options: CompletionOption[];
  commands: CompletionCommand[];
  /** The command that runs when the first word is not a command name. */
  defaultCommand: string;
}

/** The names of the recipes shipped with the package (recipes/*.yml beside it). */
export const shippedRecipes = (): string[] => shippedNames();

/** A name that may stand in a shell script unquoted: a recipe file named otherwise is left out. */
const SAFE_NAME = /^[\w][\w.+-]*$/;

/** `names`: the recipes and step kinds to offer (default: the shipped recipes and every step kind). */
export function completionScript(shell: Shell, spec: CompletionSpec, names: { recipes: string[]; kinds: string[] } = { recipes: shippedRecipes(), kinds: stepKinds() }): string {
  const data = { recipes: names.recipes.filter((n) => SAFE_NAME.test(n)), kinds: names.kinds.filter((n) => SAFE_NAME.test(n)) };
  if (shell === 'fish') return fish(spec, data);
  const body = bash(spec, data);
  if (shell === 'bash') return body;
  return [
    '#compdef umlbuild',
    '# umlbuild completion for zsh: source <(umlbuild completion zsh) in ~/.zshrc (after compinit),',
    '# with the bash completion function through bashcompinit.',
    '(( $+functions[compdef] )) || { autoload -U +X compinit && compinit -u; }',
    'autoload -U +X bashcompinit && bashcompinit',
    body
      .split('\n')
      .filter((l) => !l.startsWith('# umlbuild completion for bash'))
      .join('\n'),
  ].join('\n');
}

type Data = { recipes: string[]; kinds: string[] };
const flags = (o: CompletionOption) => [o.long, o.short].filter((f): f is string => Boolean(f));
const words = (ws: readonly string[]) => ws.join(' ');

function bash(spec: CompletionSpec, d: Data): string {
  const all = [...spec.options, ...spec.commands.flatMap((c) => [...c.options, ...(c.subcommands ?? []).flatMap((s) => s.options)])];
  // What the word after a value-taking option completes to (an option means the same in every command that has it).
  const valueCases = new Map<string, string>();
  for (const o of all) if (o.value) for (const f of flags(o)) valueCases.set(f, completeWords(o.value, d));
  const byValue = new Map<string, string[]>();
  for (const [f, action] of valueCases) byValue.set(action, [...(byValue.get(action) ?? []), f]);
  const optionWords = (c: CompletionCommand) => words([...c.options, ...spec.options].flatMap(flags));
  const positional = (c: CompletionCommand) => completeWords(c.argument, d);
  const lines = [
    '# umlbuild completion for bash: source <(umlbuild completion bash), e.g. in ~/.bashrc',
    '_umlbuild() {',
    '  local cur="${COMP_WORDS[COMP_CWORD]}" prev="" cmd="" sub="" w i skip=0',
    '  [ "$COMP_CWORD" -gt 0 ] && prev="${COMP_WORDS[COMP_CWORD-1]}"',
    `  local commands='${words(spec.commands.map((c) => c.name))}'`,
    '  COMPREPLY=()',
    '  for ((i = 1; i < COMP_CWORD; i++)); do',
    '    w="${COMP_WORDS[i]}"',
    '    if ((skip)); then skip=0; continue; fi',
    '    case "$w" in',
    `      ${[...valueCases.keys()].join('|')}) skip=1 ;;`,
    '      -*) ;;',
    '      *) if [ -z "$cmd" ]; then cmd="$w"; elif [ -z "$sub" ]; then sub="$w"; fi ;;',
    '    esac',
    '  done',
    `  case " $commands " in *" $cmd "*) ;; *) [ -n "$cmd" ] && { sub="$cmd"; cmd=${spec.defaultCommand}; } ;; esac`,
    '  case "$prev" in',
    ...[...byValue].map(([action, fs]) => `    ${fs.join('|')}) ${action}; return 0 ;;`),
    '  esac',
    '  if [[ "$cur" == -* ]]; then',
    '    case "$cmd" in',
    ...spec.commands.map((c) =>
      c.subcommands?.length
        ? `      ${c.name}) case "$sub" in ${c.subcommands.map((s) => `${s.name}) _umlbuild_words '${optionWords(s)}' ;; `).join('')}*) _umlbuild_words '${optionWords(c)}' ;; esac ;;`
        : `      ${c.name}) _umlbuild_words '${optionWords(c)}' ;;`,
    ),
    `      *) _umlbuild_words '${words([...spec.options.flatMap(flags), ...(spec.commands.find((c) => c.name === spec.defaultCommand)?.options.flatMap(flags) ?? [])])}' ;;`,
    '    esac',
    '    return 0',
    '  fi',
    '  case "$cmd" in',
    `    '') _umlbuild_words "$commands"; ${completeWords('recipe', d)} ;;`,
    ...spec.commands.map((c) =>
      c.subcommands?.length ? `    ${c.name}) [ -z "$sub" ] && _umlbuild_words '${words(c.subcommands.map((s) => s.name))}' ;;` : `    ${c.name}) ${c.name === spec.defaultCommand ? '[ -z "$sub" ] && ' : ''}${positional(c)} ;;`,
    ),
    '  esac',
    '  return 0',
    '}',
    '_umlbuild_words() { local IFS=$\'\\n\'; COMPREPLY+=($(IFS=\' \' compgen -W "$1" -- "$cur")); }',
    '_umlbuild_files() { local IFS=$\'\\n\'; compopt -o filenames 2>/dev/null; COMPREPLY+=($(compgen -f -- "$cur")); }',
    '_umlbuild_dirs() { local IFS=$\'\\n\'; compopt -o filenames 2>/dev/null; COMPREPLY+=($(compgen -d -- "$cur")); }',
    '_umlbuild_recipes() {',
    "  local IFS=$'\\n'; compopt -o filenames 2>/dev/null",
    `  COMPREPLY+=($(IFS=' ' compgen -W '${words(d.recipes)}' -- "$cur") $(compgen -d -- "$cur") $(compgen -G "$cur*.yml") $(compgen -G "$cur*.yaml"))`,
    '}',
    'complete -F _umlbuild umlbuild',
    '',
  ];
  return lines.join('\n');
}

function completeWords(c: Completes, d: Data): string {
  if (Array.isArray(c)) return `_umlbuild_words '${words(c as string[])}'`;
  switch (c) {
    case 'recipe':
      return '_umlbuild_recipes';
    case 'path':
      return '_umlbuild_files';
    case 'dir':
      return '_umlbuild_dirs';
    case 'step':
      return `_umlbuild_words '${words(d.kinds)}'`;
    default:
      return ':';
  }
}

const fishQuote = (s: string) => `'${s.replace(/[\\']/g, (m) => `\\${m}`)}'`;

function fish(spec: CompletionSpec, d: Data): string {
  const names = spec.commands.map((c) => c.name);
  const noCommand = `not __fish_seen_subcommand_from ${names.join(' ')}`;
  const lines = ['# umlbuild completion for fish: umlbuild completion fish | source (or save it as ~/.config/fish/completions/umlbuild.fish)', 'complete -c umlbuild -f'];
  const args = (c: Completes): string => {
    if (Array.isArray(c)) return `-a ${fishQuote(words(c as string[]))}`;
    if (c === 'recipe') return `-F -a ${fishQuote(words(d.recipes))}`;
    if (c === 'path') return '-F';
    if (c === 'dir') return "-a '(__fish_complete_directories)'";
    if (c === 'step') return `-a ${fishQuote(words(d.kinds))}`;
    return '';
  };
  const option = (cond: string, o: CompletionOption) =>
    ['complete -c umlbuild', cond ? `-n ${fishQuote(cond)}` : '', o.long ? `-l ${o.long.slice(2)}` : '', o.short ? `-s ${o.short.slice(1)}` : '', o.value ? `-r ${args(o.value)}` : '', `-d ${fishQuote(o.description)}`]
      .filter(Boolean)
      .join(' ');
  for (const o of spec.options) lines.push(option('', o));
  for (const c of spec.commands) lines.push(`complete -c umlbuild -n ${fishQuote(noCommand)} -a ${c.name} -d ${fishQuote(c.description)}`);
  for (const r of d.recipes) lines.push(`complete -c umlbuild -n ${fishQuote(noCommand)} -a ${fishQuote(r)} -d 'shipped recipe'`);
  lines.push(`complete -c umlbuild -n ${fishQuote(noCommand)} -F`);
  for (const o of spec.commands.find((c) => c.name === spec.defaultCommand)?.options ?? []) lines.push(option(noCommand, o));
  for (const c of spec.commands) {
    const seen = `__fish_seen_subcommand_from ${c.name}`;
    for (const o of c.options) lines.push(option(seen, o));
    if (c.subcommands?.length) {
      const subs = c.subcommands.map((s) => s.name).join(' ');
      for (const s of c.subcommands) {
        lines.push(`complete -c umlbuild -n ${fishQuote(`${seen}; and not __fish_seen_subcommand_from ${subs}`)} -a ${s.name} -d ${fishQuote(s.description)}`);
        for (const o of s.options) lines.push(option(`${seen}; and __fish_seen_subcommand_from ${s.name}`, o));
      }
    } else {
      const a = args(c.argument);
      if (a) lines.push(`complete -c umlbuild -n ${fishQuote(seen)} ${a}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

export { closest as closestName } from '../model/names.js';
