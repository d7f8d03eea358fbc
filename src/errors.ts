/**
 * The few named errors umlbuild raises. The CLI maps them to exit codes in one
 * place (cli.ts); anything else is a bug and shows a stack trace.
 */
import { redact } from './host/secrets.js';

/** Exit codes, as documented in README. */
export const EXIT = {
  ok: 0,
  buildFailed: 1,
  invalid: 2,
  hostMissing: 3,
  sigint: 130,
  sigterm: 143,
} as const;

/** A user-facing error: printed without a stack trace. */
export class UserError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT.buildFailed,
  ) {
    super(message);
  }
}

/** One problem found in a recipe, located in its file. */
export interface RecipeIssue {
  file: string;
  line?: number;
  col?: number;
  /** Key path such as `steps[3].size`. */
  path: string;
  message: string;
}

export function formatIssue(i: RecipeIssue): string {
  const where = i.line ? `${i.file}:${i.line}:${i.col ?? 1}` : i.file;
  return `${where}: ${i.path ? `${i.path}: ` : ''}${i.message}`;
}

/** Everything wrong with a recipe (or the command line), reported at once. */
export class RecipeError extends UserError {
  constructor(readonly issues: RecipeIssue[]) {
    super(issues.map(formatIssue).join('\n'), EXIT.invalid);
    this.name = 'RecipeError';
  }
}

/** The host lacks a tool, a device or a privilege the recipe needs. */
export class HostError extends UserError {
  constructor(
    message: string,
    readonly packages: string[] = [],
  ) {
    super(packages.length ? `${message}\n  install: apt-get install ${[...new Set(packages)].join(' ')}` : message, EXIT.hostMissing);
    this.name = 'HostError';
  }
}

/** A command run by host/exec.ts failed. */
export class CommandError extends UserError {
  constructor(
    readonly command: string,
    readonly commandExitCode: number | undefined,
    readonly signal: string | undefined,
    readonly stderrTail: string[],
    detail?: string,
  ) {
    const status = signal ? `killed by ${signal}` : `exit code ${commandExitCode ?? '?'}`;
    const tail = stderrTail.length ? `\n${stderrTail.map((l) => `  | ${l}`).join('\n')}` : '';
    super(`command failed (${status}): ${command}${detail ? ` (${detail})` : ''}${tail}`);
    this.name = 'CommandError';
  }
}

/** A step failed; wraps the cause with the step's position in the recipe. */
export class StepError extends UserError {
  constructor(
    readonly step: string,
    override readonly cause: unknown,
    hint?: string,
  ) {
    // Redacted here: the progress renderer prints this message as it is.
    super(redact(`step ${step} failed: ${cause instanceof Error ? cause.message : String(cause)}${hint ? `\n${hint}` : ''}`));
    this.name = 'StepError';
  }
}

/** The build was interrupted by a signal. */
export class InterruptedError extends UserError {
  constructor(readonly signal: 'SIGINT' | 'SIGTERM') {
    super(`interrupted by ${signal}`, signal === 'SIGINT' ? EXIT.sigint : EXIT.sigterm);
    this.name = 'InterruptedError';
  }
}
