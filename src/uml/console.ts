/**
 * A UML console on pipes: collect what the guest prints, wait for patterns,
 * type lines. Used to log in and run checks over con1=fd:0,fd:1.
 */
import type { Readable, Writable } from 'node:stream';
import { UserError } from '../errors.js';

interface Waiter {
  pattern: RegExp;
  what: string;
  resolve(m: RegExpMatchArray): void;
  reject(e: Error): void;
}

export class ConsoleTimeout extends UserError {
  constructor(
    what: string,
    seconds: number,
    readonly tail: string,
  ) {
    super(`timed out after ${seconds} s waiting for ${what}; last console lines:\n${tail}`);
  }
}

export class UmlConsole {
  private text = '';
  /** Where in `text` the next wait starts. */
  private mark = 0;
  private waiter?: Waiter;
  private closed = false;

  constructor(
    out: Readable,
    private readonly input: Writable,
    private readonly onData?: (s: string) => void,
  ) {
    out.on('data', (d: Buffer) => {
      const s = d.toString('utf8');
      // A shell that asks where the cursor is (busybox ash: ESC[6n) waits for the answer a terminal would give.
      if (s.includes('\x1b[6n')) this.input.write('\x1b[24;1R');
      this.text += s;
      this.onData?.(s);
      this.check();
    });
    // UML exited (its console closed): a wait in progress ends now, not at its timeout.
    out.on('close', () => {
      this.closed = true;
      this.check();
      const w = this.waiter;
      this.waiter = undefined;
      w?.reject(this.exited(w.what));
    });
  }

  private exited(what: string): UserError {
    return new UserError(`UML exited while waiting for ${what}; last console lines:\n${this.tail()}`);
  }

  /** The last `n` lines the guest printed. */
  tail(n = 20): string {
    return this.text.replace(/\r/g, '').split('\n').slice(-n).join('\n');
  }

  private check(): void {
    if (!this.waiter) return;
    const m = this.text.slice(this.mark).match(this.waiter.pattern);
    if (m) {
      this.mark += (m.index ?? 0) + m[0].length;
      const w = this.waiter;
      this.waiter = undefined;
      w.resolve(m);
    }
  }

  /** Wait until the output since the last match matches `pattern`. */
  async expect(pattern: RegExp, seconds: number, what = String(pattern)): Promise<RegExpMatchArray> {
    let timer: NodeJS.Timeout | undefined;
    try {
      return await new Promise<RegExpMatchArray>((resolve, reject) => {
        this.waiter = { pattern, what, resolve, reject };
        timer = setTimeout(() => {
          this.waiter = undefined;
          reject(new ConsoleTimeout(what, seconds, this.tail()));
        }, seconds * 1000);
        this.check();
        if (this.waiter && this.closed) {
          this.waiter = undefined;
          reject(this.exited(what));
        }
      });
    } finally {
      clearTimeout(timer);
    }
  }

  /** Stop waiting (interrupt): the pending expect() rejects with `reason`. */
  abort(reason: Error): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.reject(reason);
  }

  send(line: string): void {
    this.input.write(`${line}\n`);
  }

  /**
   * Log in at the login prompt. Resolves with the seconds until the prompt and
   * until a shell; `refused` when the password was wrong.
   */
  async login(user: string, password: string, promptSeconds: number): Promise<{ refused: boolean }> {
    await this.expect(/login: *$/m, promptSeconds, 'the login prompt');
    this.onPrompt?.();
    this.send(user);
    await this.expect(/Password: *$/m, 30, 'the password prompt');
    // Give login a moment to turn echo off (busybox prints the prompt first), so the password is not echoed.
    await new Promise((r) => setTimeout(r, 250));
    this.send(password);
    // The prompt may end in a terminal query (busybox ash: ESC[6n).
    const m = await this.expect(/(Login incorrect|[#$] *(?:\x1b\[[0-9;]*[A-Za-z])*\s*$)/m, 30, 'a shell after logging in');
    return { refused: m[1] === 'Login incorrect' };
  }

  /** Called when the login prompt appears (for timing). */
  onPrompt?: () => void;

  /** The last marker number used: a console reopened by another process (a lab's pseudo-terminal) starts elsewhere. */
  seq = 0;

  /**
   * Run a shell command and return its output and exit status. The markers
   * are computed by the guest's shell ($((...))), so the echo of what we type
   * never matches them.
   */
  async run(command: string, seconds = 30): Promise<{ output: string; status: number }> {
    const n = ++this.seq;
    const tag = 7000 + n;
    this.send(`echo "@@B$((${tag}-1+1))@@"; ${command}; echo "@@E$((${tag}-1+1))@@ $?"`);
    await this.expect(new RegExp(`@@B${tag}@@\\r?\\n`), seconds, `the start of "${command}"`);
    const m = await this.expect(new RegExp(`([\\s\\S]*?)@@E${tag}@@ (\\d+)`), seconds, `"${command}" to finish`);
    return { output: m[1]!.replace(/\r/g, '').trim(), status: Number(m[2]) };
  }
}
