import { PassThrough } from 'node:stream';

/**
 * A guest on a console, replaying a recorded Debian/busybox login: each line
 * typed gets the bytes the real guest printed in answer (CRLF, echo, the
 * ESC[6n cursor query busybox ash sends after its prompt).
 */
export function fakeGuest(opts: { password: string; answers?: Record<string, string> }) {
  const out = new PassThrough();
  const input = new PassThrough();
  const typed: string[] = [];
  let state: 'user' | 'password' | 'shell' = 'user';
  let pending = '';
  let cursorAnswers = 0;
  input.on('data', (d: Buffer) => {
    pending += d.toString('utf8');
    for (let nl = pending.indexOf('\n'); nl >= 0; nl = pending.indexOf('\n')) {
      const raw = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      // The terminal's answer to ESC[6n is read by the shell, not typed.
      const line = raw.replace(/\x1b\[\d+;\d+R/g, () => {
        cursorAnswers += 1;
        return '';
      });
      typed.push(line);
      if (state === 'user') {
        out.write(`${line}\r\nPassword: `);
        state = 'password';
      } else if (state === 'password') {
        if (line === opts.password) {
          out.write('\r\nLinux uml 6.1.0-uml #1 Debian 6.1.0 x86_64\r\n\r\nroot@uml:~# \x1b[6n');
          state = 'shell';
        } else {
          out.write('\r\n\r\nLogin incorrect\r\numl login: ');
          state = 'user';
        }
      } else {
        // The shell echoes the line, then evaluates the markers as sh would.
        out.write(`${line}\r\n`);
        const m = /^echo "@@B\$\(\((\d+)-1\+1\)\)@@"; (.*); echo "@@E\$\(\((\d+)-1\+1\)\)@@ \$\?"$/.exec(line);
        if (!m) continue;
        const [answer, status] = (opts.answers?.[m[2]!] ?? '\n0').split('\n') as [string, string];
        // Split across chunks on purpose: the console must join them.
        out.write(`@@B${m[1]}@@\r\n${answer}`);
        setTimeout(() => out.write(`\r\n@@E${m[3]}@@ ${status}\r\nroot@uml:~# `), 5);
      }
    }
  });
  return { out, input, typed, cursorAnswers: () => cursorAnswers, boot: () => out.write('[    0.000000] Linux version 6.1.0\r\nDebian GNU/Linux 12 uml tty0\r\n\r\numl login: ') };
}
