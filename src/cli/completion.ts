/** `umlbuild completion bash|zsh|fish`: a completion script made from the commands this program declares. */
import { type Command, type Option, Argument } from 'commander';
import { SHELLS, type Shell } from '../api/basics.js';
import type { Completes, CompletionCommand, CompletionOption, CompletionSpec } from '../api/completion.js';
import { withDetails } from './help.js';
import { out } from './options.js';

function completes(name: string, choices: readonly string[] | undefined): Completes {
  if (choices?.length) return choices;
  if (name === 'recipe') return 'recipe';
  if (name === 'kind') return 'step';
  if (name === 'dir') return 'dir';
  if (/\b(file|image|outdir|cow|new-base|script|path|kernel)\b/.test(name)) return 'path';
  return 'none';
}

function option(o: Option): CompletionOption {
  const value = /<([^>]+)>|\[([^\]]+)\]/.exec(o.flags);
  return { long: o.long, short: o.short, description: o.description, value: value ? completes((value[1] ?? value[2])!, o.argChoices) : undefined };
}

function command(c: Command): CompletionCommand {
  const arg = c.registeredArguments[0];
  return {
    name: c.name(),
    description: c.description(),
    options: [...c.options.filter((o) => !o.hidden).map(option), { long: '--help', short: '-h', description: 'display help for command' }],
    argument: arg ? completes(arg.name(), arg.argChoices) : 'none',
    subcommands: c.commands.length ? c.commands.map(command) : undefined,
  };
}

/** The commands and options `p` declares, for the completion scripts. */
export function completionSpec(p: Command): CompletionSpec {
  return {
    options: [...p.options.map(option), { long: '--help', short: '-h', description: 'display help' }],
    commands: p.commands.map(command),
    defaultCommand: 'build',
  };
}

export function completionCli(p: Command): void {
  const c = p
    .command('completion')
    .description('print a shell completion script: commands, options, shipped recipes and step kinds')
    .addArgument(new Argument('<shell>', 'the shell the script is for').choices(SHELLS))
    .action(async (shell: Shell) => {
      const { completionScript } = await import('../api/completion.js');
      out(completionScript(shell, completionSpec(p)));
    });
  withDetails(c, {
    examples: [['source <(umlbuild completion bash)', 'in ~/.bashrc'], ['source <(umlbuild completion zsh)', 'in ~/.zshrc, after compinit'], ['umlbuild completion fish > ~/.config/fish/completions/umlbuild.fish']],
  });
}
