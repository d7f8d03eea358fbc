/**
 * The command line: assembles the commands of cli/ (one file each, each a thin
 * layer over the library API) and turns errors into messages and exit codes.
 */
import { Command, CommanderError } from 'commander';
import { redact, VERSION } from './api/report.js';
import { bootCli } from './cli/boot.js';
import { buildCli } from './cli/build.js';
import { eventLog, finalEventWritten } from './api/events.js';
import { cacheCli } from './cli/cache.js';
import { cleanupCli } from './cli/cleanup.js';
import { doctorCli } from './cli/doctor.js';
import { mergeCli } from './cli/merge.js';
import { out, wantsNdjson } from './cli/options.js';
import { schemaCli } from './cli/schema.js';
import { stepsCli } from './cli/steps.js';
import { testCli } from './cli/test.js';
import { validateCli } from './cli/validate.js';
import { verifyCowCli } from './cli/verify-cow.js';
import { EXIT, UserError } from './index.js';

export { collectExpect, collectSet } from './cli/options.js';

let verbose = false;

/** The commands, in the order `umlbuild --help` lists them. */
const COMMANDS = [buildCli, testCli, bootCli, validateCli, cacheCli, schemaCli, cleanupCli, verifyCowCli, mergeCli, stepsCli, doctorCli];

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
    // NDJSON asked for, and the command line failed before a command could say so (an option's value): its final event.
    const command = argv.slice(2).find((a) => !a.startsWith('-'));
    if (wantsNdjson(argv) && !finalEventWritten() && !(e instanceof CommanderError && e.exitCode === 0)) eventLog(out).failed(e, command === 'validate' ? 'validate-failed' : 'build-failed');
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
