import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { ConsoleTimeout, UmlConsole } from '../../src/uml/console.js';

/**
 * A guest on a console, replaying a recorded Debian/busybox login: each line
 * typed gets the bytes the real guest printed in answer (CRLF, echo, the
 * ESC[6n cursor query busybox ash sends after its prompt).
 */
function fakeGuest(opts: { password: string; answers?: Record<string, string> }) {
  const out = new PassThrough();
  const input = new PassThrough();
  const typed: string[] = [];
  let state: 'user' | 'password' | 'shell' = 'user';
  let pending = '';
  let cursorAnswers = 0;
  input.on('data', (d: Buffer) => {
    pending += d.toString('utf8');
    let nl: number;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const raw = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      // The terminal's answer to ESC[6n is read by the shell, not typed.
      const line = raw.replace(/\x1b\[\d+;\d+R/g, () => ((cursorAnswers += 1), ''));
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

describe('uml/console: login and run over a recorded transcript', () => {
  it('logs in (answering the ESC[6n cursor query) and runs commands, reading output and status between the markers', async () => {
    const g = fakeGuest({ password: 's3cret', answers: { 'cat /etc/hostname': 'uml\n0', 'false': '\n1' } });
    const con = new UmlConsole(g.out, g.input);
    let prompted = false;
    con.onPrompt = () => (prompted = true);
    setTimeout(g.boot, 10);
    assert.deepEqual(await con.login('root', 's3cret', 5), { refused: false });
    assert.equal(prompted, true);
    assert.deepEqual(g.typed.slice(0, 2), ['root', 's3cret']);
    assert.deepEqual(await con.run('cat /etc/hostname', 5), { output: 'uml', status: 0 });
    assert.equal(g.cursorAnswers(), 1, 'answered the cursor query once');
    assert.deepEqual(await con.run('false', 5), { output: '', status: 1 });
    // The typed command line holds the marker only as $((...)): its echo cannot end the wait early.
    assert.doesNotMatch(g.typed[2]!, /@@B7001@@/);
    assert.match(con.tail(3), /root@uml:~# /);
  });

  it('a wrong password is "refused", not a timeout', async () => {
    const g = fakeGuest({ password: 'right' });
    const con = new UmlConsole(g.out, g.input);
    setTimeout(g.boot, 10);
    assert.deepEqual(await con.login('root', 'wrong', 5), { refused: true });
  });

  it('times out naming what it waited for and the last console lines', async () => {
    const g = fakeGuest({ password: 'x' });
    const con = new UmlConsole(g.out, g.input);
    g.out.write('Begin: Mounting root file system ...\r\n');
    const err = await con.login('root', 'x', 0.2).then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof ConsoleTimeout);
    assert.match(err.message, /timed out after 0.2 s waiting for the login prompt; last console lines:\nBegin: Mounting root file system \.\.\./);
  });

  it('says UML exited when the console closes while waiting', async () => {
    const g = fakeGuest({ password: 'x' });
    const con = new UmlConsole(g.out, g.input);
    g.out.end('Kernel panic - not syncing: VFS\r\n');
    await new Promise((r) => setImmediate(r));
    await assert.rejects(con.expect(/login:/, 5, 'the login prompt'), /UML exited while waiting for the login prompt; last console lines:\nKernel panic/);
  });
});
