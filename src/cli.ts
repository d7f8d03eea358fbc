/**
 * The command line: assembles the commands of cli/ (one file each, each a thin
 * layer over the library API) and turns errors into messages and exit codes.
 */
import { Command, CommanderError } from 'commander';
import { EXIT, redact, UserError, VERSION } from './api/basics.js';
import { bootCli } from './cli/boot.js';
import { buildCli } from './cli/build.js';
import { cacheCli } from './cli/cache.js';
import { cleanupCli } from './cli/cleanup.js';
import { doctorCli } from './cli/doctor.js';
import { mergeCli } from './cli/merge.js';
import { recipesCli } from './cli/recipes.js';
import { schemaCli } from './cli/schema.js';
import { stepsCli } from './cli/steps.js';
import { testCli } from './cli/test.js';
import { validateCli } from './cli/validate.js';
import { verifyCowCli } from './cli/verify-cow.js';

export { collectExpect, collectSet } from './cli/options.js';

let verbose = false;

/** The commands, in the order `umlbuild --help` lists them. Each loads the library when it runs (startup: api/basics.ts). */
const COMMANDS = [buildCli, testCli, bootCli, validateCli, recipesCli, cacheCli, schemaCli, cleanupCli, verifyCowCli, mergeCli, stepsCli, doctorCli];

export function program(): Command {
  const p = new Command('umlbuild')
    .description('Build ready-to-boot User Mode Linux root filesystems from step-based YAML recipes')
    .version(VERSION)
    .option('-v, --verbose', 'show stack traces for errors')
    .hook('preAction', (cmd) => {
      verbose = Boolean(cmd.opts().verbose);
    })
    .exitOverride()
    .configureOutput({ writeErr: (s) => void process.stderr.write(s) });
  for (const add of COMMANDS) add(p);
  return p;
}

export async function main(argv: string[] = process.argv): Promise<number> {
  try {
    await program().parseAsync(argv);
    return Number(process.exitCode ?? 0);
  } catch (e) {
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
