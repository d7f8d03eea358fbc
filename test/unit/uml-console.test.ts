import assert from 'node:assert/strict';
import { ConsoleTimeout, UmlConsole } from '../../src/uml/console.js';
import { fakeGuest } from '../support/fake-guest.js';

describe('uml/console: login and run over a recorded transcript', () => {
  it('logs in (answering the ESC[6n cursor query) and runs commands, reading output and status between the markers', async () => {
    const g = fakeGuest({ password: 's3cret', answers: { 'cat /etc/hostname': 'uml\n0', false: '\n1' } });
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
    const err = await con.login('root', 'x', 0.2).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(err instanceof ConsoleTimeout);
    assert.match(err.message, /timed out after 0.2 s waiting for the login prompt; last console lines:\nBegin: Mounting root file system \.\.\./);
  });

  it('a wait in progress ends when the console closes (UML died), naming what it waited for, not at its timeout', async () => {
    const g = fakeGuest({ password: 'x' });
    const con = new UmlConsole(g.out, g.input);
    g.out.write('Begin: Mounting root file system ...\r\n');
    // The guest dies after the wait began: the wait ends then, it does not run out its 5 s.
    setTimeout(() => g.out.end('Kernel panic - not syncing: Attempted to kill init!\r\n'), 50);
    const err = await con.login('root', 'x', 5).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(err instanceof Error && !(err instanceof ConsoleTimeout), String(err));
    assert.match(err.message, /^UML exited while waiting for the login prompt; last console lines:\nBegin: Mounting root file system \.\.\.\nKernel panic - not syncing: Attempted to kill init!/);
  });

  it('says UML exited when the console closes while waiting', async () => {
    const g = fakeGuest({ password: 'x' });
    const con = new UmlConsole(g.out, g.input);
    g.out.end('Kernel panic - not syncing: VFS\r\n');
    await new Promise((r) => setImmediate(r));
    await assert.rejects(con.expect(/login:/, 5, 'the login prompt'), /UML exited while waiting for the login prompt; last console lines:\nKernel panic/);
  });
});
