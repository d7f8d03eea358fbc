/**
 * Console and serial line channels (`con`, `conN`, `ssl`, `sslN`): null,
 * fd:N, port:N, pty, pts, tty:/dev/ttyX (or a bare /dev/ttyX), xterm, and an
 * "input,output" pair of them.
 */
import { z } from 'zod';

const ONE = /^(null|pty|pts|xterm|fd:\d+|port:\d{1,5}|tty:\/dev\/[\w/]+|\/dev\/tty[\w/]*)$/;

export function isChannel(spec: string): boolean {
  const parts = spec.split(',');
  return parts.length <= 2 && parts.every((p) => ONE.test(p));
}

export const channel = z.string().refine(isChannel, 'not a channel: use null, fd:N, port:N, pty, pts, tty:/dev/ttyX, xterm, or "input,output"');

/** Keys allowed in `consoles:`: con, con0..con63, ssl, ssl0..ssl63. */
export const consoleKey = z.string().regex(/^(con|ssl)(\d{1,2})?$/, 'use con, conN, ssl or sslN');

/** The HowTo's text-only setup: kernel messages on stderr, tty1 on stdin/stdout. */
export const DEFAULT_CONSOLES: Record<string, string> = { con: 'null', con0: 'null,fd:2', con1: 'fd:0,fd:1' };

export function consoleArgs(consoles: Record<string, string>): string[] {
  // `con`/`ssl` (the defaults for all) first, then numbered lines in order.
  const order = (k: string) => (k === 'con' ? -2 : k === 'ssl' ? -1 : (k.startsWith('ssl') ? 100 : 0) + Number(k.slice(3)));
  return Object.keys(consoles)
    .sort((a, b) => order(a) - order(b))
    .map((k) => `${k}=${consoles[k]}`);
}
