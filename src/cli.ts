/**
 * The command line: assembles the commands of cli/ (one file each, each a thin
 * layer over the library API) and turns errors into messages and exit codes.
 */
import { existsSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { closestName, EXIT, redact, UserError, VERSION } from './api/basics.js';
import { bootCli } from './cli/boot.js';
import { buildCli } from './cli/build.js';
import { cacheCli } from './cli/cache.js';
import { cleanupCli } from './cli/cleanup.js';
import { completionCli } from './cli/completion.js';
import { doctorCli } from './cli/doctor.js';
import { withDetails } from './cli/help.js';
import { kernelCli } from './cli/kernel.js';
import { labCli } from './cli/lab.js';
import { mergeCli } from './cli/merge.js';
import { recipesCli } from './cli/recipes.js';
import { out, wantsNdjson } from './cli/options.js';
import { schemaCli } from './cli/schema.js';
import { stepsCli } from './cli/steps.js';
import { testCli } from './cli/test.js';
import { validateCli } from './cli/validate.js';
import { verifyCowCli } from './cli/verify-cow.js';

export { collectExpect, collectSet } from './cli/options.js';

let verbose = false;

/** The commands, in the order `umlbuild --help` lists them. */
/** Each loads the library when it runs (startup: api/basics.ts; test/unit/startup.test.ts). */
const COMMANDS = [buildCli, testCli, bootCli, labCli, validateCli, recipesCli, cacheCli, kernelCli, schemaCli, cleanupCli, verifyCowCli, mergeCli, stepsCli, doctorCli, completionCli];

export function program(): Command {
  const p = new Command('umlbuild')
    .description('Build ready-to-boot User Mode Linux root filesystems from step-based YAML recipes')
    .usage('[options] [command] ...  (umlbuild RECIPE is umlbuild build RECIPE)')
    .version(VERSION)
    .option('-v, --verbose', 'show stack traces for errors')
    .hook('preAction', (cmd) => {
      verbose = Boolean(cmd.opts().verbose);
    })
    .exitOverride()
    .configureOutput({ writeErr: (s) => void process.stderr.write(s) });
  for (const add of COMMANDS) add(p);
  return withDetails(p, {
    examples: [
      ['umlbuild recipes/bookworm.yml --out out --set root_password=change-me', 'build an image (the build command)'],
      ['umlbuild validate recipes/bookworm.yml', 'check a recipe and the host, change nothing'],
      ['umlbuild test out/', 'boot the image on a throw-away COW layer, log in, check'],
    ],
    notes: [
      [
        'Exit codes:',
        '  0        success',
        '  1        the build failed (or a check of test, verify-cow, cleanup)',
        '  2        invalid recipe or arguments',
        '  3        host prerequisites missing',
        '  130/143  interrupted by SIGINT/SIGTERM (everything acquired was released)',
        'Output to a closed pipe (umlbuild schema | head -1) ends quietly with the exit code of the work done.',
        '',
        '`umlbuild COMMAND --help` describes a command; man umlbuild, man 5 umlbuild-recipe.',
      ].join('\n'),
    ],
  });
}

/** A first word that is no command, no file and no shipped recipe, but close to a command name: a typo, not a recipe for `build`. */
async function mistypedCommand(p: Command, args: string[]): Promise<string | undefined> {
  const first = args.find((a) => a !== '-v' && a !== '--verbose');
  if (first === undefined || first.startsWith('-') || p.commands.some((c) => c.name() === first || c.aliases().includes(first))) return undefined;
  if (existsSync(first) || /[/.]/.test(first) || (await import('./api/recipes.js')).shippedNames().includes(first)) return undefined;
  const near = closestName(first, [...p.commands.map((c) => c.name()), 'help']);
  return near && `unknown command '${first}', did you mean '${near}'? (umlbuild --help lists the commands)`;
}

/** Output cut short by its reader (`umlbuild schema | head -1`): stop writing and end normally, without a stack trace. */
const guarded = new WeakSet<NodeJS.WriteStream>();
function quietOnClosedPipe(stream: NodeJS.WriteStream): void {
  if (guarded.has(stream)) return;
  guarded.add(stream);
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE' || e.code === 'ERR_STREAM_DESTROYED') {
      stream.write = () => true;
      return;
    }
    throw e;
  });
}

export async function main(argv: string[] = process.argv): Promise<number> {
  quietOnClosedPipe(process.stdout);
  quietOnClosedPipe(process.stderr);
  try {
    const p = program();
    const args = argv.slice(2);
    if (!args.length) {
      // Bare `umlbuild`: what it can do, on stderr, as for any other usage error.
      p.outputHelp({ error: true });
      return EXIT.invalid;
    }
    const mistyped = await mistypedCommand(p, args);
    if (mistyped) throw new UserError(mistyped, EXIT.invalid);
    await p.parseAsync(argv);
    return Number(process.exitCode ?? 0);
  } catch (e) {
    // NDJSON asked for, and the command line failed before a command could say so (an option's value): its final event.
    const command = argv.slice(2).find((a) => !a.startsWith('-'));
    if (wantsNdjson(argv) && !(e instanceof CommanderError && e.exitCode === 0)) {
      const { eventLog, finalEventWritten } = await import('./api/events.js');
      if (!finalEventWritten()) eventLog(out).failed(e, command === 'validate' ? 'validate-failed' : 'build-failed');
    }
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : EXIT.invalid;
    if (e instanceof UserError) {
      process.stderr.write(`umlbuild: ${redact(e.message)}\n`);
      if (verbose && e.stack) process.stderr.write(`${redact(e.stack)}\n`);
      return e.exitCode;
    }
    process.stderr.write(`umlbuild: internal error: ${redact(e instanceof Error ? (e.stack ?? e.message) : String(e))}\n`);
    return EXIT.buildFailed;
  }
}
