/**
 * The only place that runs commands. Every subprocess gets a clean
 * environment, its argv is logged with secrets redacted, its output is
 * streamed line by line, and a failure raises CommandError naming the command,
 * its exit code or signal and the tail of its stderr.
 */
import { execa, type Options as ExecaOptions } from 'execa';
import { CommandError, InterruptedError } from '../errors.js';
import { redact } from './secrets.js';

export interface ExecOptions {
  /** Written to the command's stdin (secrets go here, never in argv). */
  input?: string | Buffer;
  /** A file to feed to stdin. */
  inputFile?: string;
  cwd?: string;
  /** Added to the clean environment. */
  env?: Record<string, string>;
  /** Called with each line of stdout and stderr. */
  onLine?: (line: string) => void;
  /** Called once with the command line about to run (redacted). */
  onCommand?: (commandLine: string) => void;
  signal?: AbortSignal;
  /** Kill the command (SIGTERM, then SIGKILL) after this many milliseconds. */
  timeoutMs?: number;
  /** Return the result instead of throwing on a non-zero exit. */
  reject?: boolean;
  /** Open file descriptors the command inherits as its fd 3, 4, ... (`/dev/fd/3`). */
  fds?: number[];
  /** Called with the pid once the command started. */
  onSpawn?: (pid: number) => void;
  /** Keep stdout's last newline (a file's contents); by default it is stripped. */
  keepFinalNewline?: boolean;
}

/** A long-running command with its stdin and stdout/stderr as pipes (UML consoles). */
export interface Spawned {
  child: ReturnType<typeof execa>;
  /** Resolves when the process has exited (never rejects). */
  exited: Promise<{ exitCode?: number; signal?: string }>;
}

type SpawnOptions = Pick<ExecOptions, 'env' | 'cwd' | 'onCommand' | 'fds'>;

/** Start `cmd` through execa in the clean environment, unbuffered, its stdio `std` then `fds` as fd 3, 4, ... */
function start(cmd: string, args: readonly string[], opts: SpawnOptions, std: unknown[], extra: ExecaOptions = {}) {
  opts.onCommand?.(commandLine(cmd, args));
  return execa(cmd, args, {
    cwd: opts.cwd,
    env: cleanEnv(opts.env),
    extendEnv: false,
    reject: false,
    buffer: false,
    stdio: [...std, ...(opts.fds ?? [])] as unknown as ExecaOptions['stdio'],
    ...extra,
  });
}

export function spawn(cmd: string, args: readonly string[], opts: SpawnOptions & { inherit?: boolean } = {}): Spawned {
  const child = start(cmd, args, opts, opts.inherit ? ['inherit', 'inherit', 'inherit'] : ['pipe', 'pipe', 'pipe']);
  const exited = child.then(
    (r) => ({ exitCode: r.exitCode, signal: r.signal }),
    () => ({}),
  );
  return { child, exited };
}

/**
 * Start a command that outlives this process (a lab's UML machines): its own session, stdin from /dev/null,
 * stdout and stderr to `logFd`, `fds` as its fd 3, 4, ... Returns its pid; nothing waits for it.
 */
export function spawnDetached(cmd: string, args: readonly string[], opts: SpawnOptions & { logFd: number }): number {
  const child = start(cmd, args, opts, ['ignore', opts.logFd, opts.logFd], { detached: true, cleanup: false });
  child.catch(() => undefined);
  child.unref();
  if (child.pid === undefined) throw new CommandError(commandLine(cmd, args), undefined, undefined, [], 'it could not be started');
  return child.pid;
}

export interface ExecResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

const TAIL_LINES = 15;

export function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    LC_ALL: 'C',
    LANG: 'C',
    HOME: process.env.HOME ?? '/root',
    DEBIAN_FRONTEND: 'noninteractive',
    DEBCONF_NONINTERACTIVE_SEEN: 'true',
    ...(process.env.TMPDIR ? { TMPDIR: process.env.TMPDIR } : {}),
    ...extra,
  };
}

function quote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

export function commandLine(cmd: string, args: readonly string[]): string {
  return redact([cmd, ...args].map(quote).join(' '));
}

function splitLines(onLine: (l: string) => void) {
  let rest = '';
  return {
    push(chunk: Buffer | string) {
      const parts = (rest + chunk.toString()).split(/\r?\n|\r/);
      rest = parts.pop() ?? '';
      for (const p of parts) if (p.trim()) onLine(redact(p));
    },
    flush() {
      if (rest.trim()) onLine(redact(rest));
      rest = '';
    },
  };
}

export async function exec(cmd: string, args: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
  const line = commandLine(cmd, args);
  opts.onCommand?.(line);
  if (opts.signal?.aborted) throw abortReason(opts.signal);
  const options: ExecaOptions = {
    cwd: opts.cwd,
    env: cleanEnv(opts.env),
    extendEnv: false,
    reject: false,
    stripFinalNewline: !opts.keepFinalNewline,
    cancelSignal: opts.signal,
    forceKillAfterDelay: 5000,
    ...(opts.timeoutMs ? { timeout: opts.timeoutMs } : {}),
    ...(opts.input !== undefined ? { input: opts.input } : opts.inputFile ? { inputFile: opts.inputFile } : opts.fds ? {} : { stdin: 'ignore' }),
    ...(opts.fds ? { stdio: [opts.input !== undefined || opts.inputFile ? 'pipe' : 'ignore', 'pipe', 'pipe', ...opts.fds] as unknown as ExecaOptions['stdio'] } : {}),
  };
  const child = execa(cmd, args, options);
  if (child.pid !== undefined) opts.onSpawn?.(child.pid);
  if (opts.onLine) {
    const out = splitLines(opts.onLine);
    const err = splitLines(opts.onLine);
    child.stdout?.on('data', (c: Buffer) => out.push(c));
    child.stderr?.on('data', (c: Buffer) => err.push(c));
    child.once('exit', () => {
      out.flush();
      err.flush();
    });
  }
  const r = await child;
  const stdout = String(r.stdout ?? '');
  const stderr = String(r.stderr ?? '');
  if (r.isCanceled && opts.signal) throw abortReason(opts.signal);
  if (r.failed && (opts.reject ?? true)) {
    const tail = (stderr || stdout)
      .split('\n')
      .filter((l) => l.trim())
      .slice(-TAIL_LINES)
      .map(redact);
    const detail = r.timedOut ? `timed out after ${opts.timeoutMs} ms` : r.exitCode === undefined && !r.signal ? (r.shortMessage ?? '').split('\n')[0] : undefined;
    throw new CommandError(line, r.exitCode, r.signal, tail, detail);
  }
  return { stdout, stderr, exitCode: r.exitCode ?? -1 };
}

function abortReason(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new InterruptedError('SIGINT');
}
