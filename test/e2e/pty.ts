/**
 * Run a command in a pseudo-terminal, as a person at a terminal would: the
 * CLI sees a TTY (listr2's default renderer), Ctrl-C is the byte \x03 typed
 * into the terminal, so the line discipline sends SIGINT to the foreground
 * process group.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { spawn, type IPty } from 'node-pty';
import { exec } from '../../src/host/exec.js';

export interface PtyOptions {
  cwd?: string;
  /** Added to the environment (TERM is xterm-256color). */
  env?: Record<string, string | undefined>;
  cols?: number;
  rows?: number;
}

export interface PtyRun {
  readonly pid: number;
  /** Everything written to the terminal so far, raw. */
  readonly raw: string;
  /** The same without ANSI escapes and carriage returns: for matching. */
  text(): string;
  /** Wait until the text (from `from` on) matches; rejects after `timeoutMs` naming the pattern and the last lines. */
  waitFor(pattern: RegExp, timeoutMs: number, from?: number): Promise<RegExpMatchArray>;
  type(text: string): void;
  ctrlC(): void;
  /** Wait for the exit code (128+N for a signal); rejects after `timeoutMs` (and kills the process). */
  exited(timeoutMs: number): Promise<number>;
  kill(): void;
}

// CSI, OSC and the two-byte escapes listr2 and a shell use.
const ANSI = /\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[()][0-9A-Za-z]|\x1b[=>78DEHMNOZc]/g;

export function stripAnsi(s: string): string {
  return s.replace(ANSI, '').replace(/\r/g, '');
}

export function tail(s: string, lines = 25): string {
  return s.trimEnd().split('\n').slice(-lines).join('\n');
}

export function runInPty(file: string, args: string[], opts: PtyOptions = {}): PtyRun {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries({ ...process.env, ...opts.env, TERM: 'xterm-256color' })) if (v !== undefined) env[k] = v;
  // Mocha's and CI's markers would make listr2 fall back to its plain renderer.
  delete env.CI;
  const term: IPty = spawn(file, args, { name: 'xterm-256color', cols: opts.cols ?? 120, rows: opts.rows ?? 40, cwd: opts.cwd ?? process.cwd(), env });
  let raw = '';
  let code: number | undefined;
  const waiters = new Set<() => void>();
  const poke = () => {
    for (const w of waiters) w();
  };
  term.onData((d) => {
    raw += d;
    poke();
  });
  term.onExit(({ exitCode, signal }) => {
    code = signal ? 128 + signal : exitCode;
    poke();
  });
  const until = <T>(check: () => T | undefined, timeoutMs: number, what: () => string): Promise<T> =>
    new Promise((resolve, reject) => {
      const test = () => {
        let v: T | undefined;
        try {
          v = check();
        } catch (e) {
          done();
          reject(e);
          return;
        }
        if (v === undefined) return;
        done();
        resolve(v);
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`${what()} after ${timeoutMs / 1000} s; the terminal's last lines:\n${tail(stripAnsi(raw))}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        waiters.delete(test);
      };
      waiters.add(test);
      test();
    });
  const run: PtyRun = {
    pid: term.pid,
    get raw() {
      return raw;
    },
    text: () => stripAnsi(raw),
    waitFor: (pattern, timeoutMs, from = 0) =>
      until(
        () => {
          const m = stripAnsi(raw).slice(from).match(pattern);
          if (m) return m;
          if (code !== undefined) throw new Error(`${file} exited (${code}) before ${pattern} showed on the terminal; its last lines:\n${tail(stripAnsi(raw))}`);
          return undefined;
        },
        timeoutMs,
        () => `no ${pattern} on the terminal`,
      ),
    type: (text) => term.write(text),
    ctrlC: () => term.write('\x03'),
    exited: async (timeoutMs) => {
      try {
        return await until(
          () => code,
          timeoutMs,
          () => `${file} did not exit`,
        );
      } catch (e) {
        run.kill();
        throw e;
      }
    },
    kill: () => {
      if (code === undefined) {
        try {
          term.kill('SIGKILL');
        } catch {
          /* gone */
        }
      }
    },
  };
  return run;
}

/** Run to the end in a pty: exit code and ANSI-stripped output. */
export async function ptyRun(file: string, args: string[], timeoutMs: number, opts: PtyOptions = {}): Promise<{ exitCode: number; output: string; pid: number }> {
  const r = runInPty(file, args, opts);
  const exitCode = await r.exited(timeoutMs);
  // The last bytes may arrive just after the exit event.
  await new Promise((res) => setTimeout(res, 100));
  return { exitCode, output: r.text(), pid: r.pid };
}

/** What a build of process `pid` left: its tmpfs trees, journal files in `journalDir`, mounts and loop devices under `paths`. */
export async function leftovers(pid: number, journalDir: string, ...paths: string[]): Promise<string[]> {
  const left: string[] = [];
  left.push(
    ...readdirSync('/dev/shm')
      .filter((f) => f.startsWith(`umlbuild-tree--${pid}-`))
      .map((f) => `/dev/shm/${f}`),
  );
  left.push(...(existsSync(journalDir) ? readdirSync(journalDir).map((f) => `journal ${f}`) : []));
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8');
  const loops = (await exec('losetup', ['--list', '--noheadings', '--output', 'NAME,BACK-FILE'])).stdout;
  for (const p of paths) {
    if (mounts.includes(p)) left.push(`a mount under ${p}`);
    left.push(
      ...loops
        .split('\n')
        .filter((l) => l.includes(p))
        .map((l) => `loop ${l.trim()}`),
    );
  }
  return left;
}

/** `umlbuild ARGS` in a pty, with the default (interactive) renderer: no --renderer flag. */
export function umlbuildInPty(bin: string, args: string[], timeoutMs: number, opts: PtyOptions = {}): Promise<{ exitCode: number; output: string; pid: number }> {
  if (args.includes('--renderer')) throw new Error('umlbuildInPty runs the default renderer: no --renderer');
  return ptyRun(bin, args, timeoutMs, { cols: 200, ...opts });
}
