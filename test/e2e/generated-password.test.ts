/**
 * A build given no password, as a person runs it in a terminal: the
 * generated password is shown once at the end, logs in, and is in no
 * manifest, log, NDJSON event, launch script or journal. `umlbuild test`
 * asks for it (no echo) on a terminal and says how to give it otherwise;
 * checks not run are listed as not run.
 */
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import pty from 'node-pty';
import { exec } from '../../src/host/exec.js';
import { journalDir } from '../../src/host/state-dirs.js';
import { BIN, PROJECT, tempDir, type TempDir } from '../helpers.js';
import { requireRootWith } from './host-state.js';

/** Run BIN in a pseudo-terminal; `answer` types into it when the output matches. */
function inPty(args: string[], answer?: { when: RegExp; type: string }): Promise<{ output: string; exitCode: number }> {
  return new Promise((resolve) => {
    const p = pty.spawn(BIN, args, { cols: 200, rows: 50, cwd: PROJECT, env: { ...process.env, TERM: 'xterm' } as Record<string, string> });
    let output = '';
    let typed = false;
    p.onData((d) => {
      output += d;
      if (answer && !typed && answer.when.test(output)) {
        typed = true;
        setTimeout(() => p.write(`${answer.type}\r`), 200);
      }
    });
    p.onExit(({ exitCode }) => resolve({ output, exitCode }));
  });
}

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

async function holding(files: string[], secret: string): Promise<string[]> {
  const hits: string[] = [];
  for (const f of files) if ((await readFile(f).catch(() => Buffer.alloc(0))).includes(secret)) hits.push(f);
  return hits;
}

describe('generated password: shown once, logs in, recorded nowhere', function () {
  this.timeout(10 * 60 * 1000);
  let dir: TempDir;
  let out: string;
  let password = '';
  before(async function () {
    await requireRootWith(this, 'linux', 'busybox', 'mkfs.ext4');
    dir = await tempDir('umlbuild-genpw-', '/var/tmp');
    out = join(dir.path, 'out');
  });
  after(() => dir?.remove());

  it('a build in a terminal with no password prints the generated one once, at the end', async () => {
    const r = await inPty([join(PROJECT, 'recipes/busybox.yml'), '--out', out, '--cache-dir', join(dir.path, 'cache'), '--renderer', 'simple', '--no-checksum']);
    assert.equal(r.exitCode, 0, r.output.slice(-3000));
    const m = /root_password was generated \(shown only this once; it is in no log or file\): (\S+)/.exec(r.output);
    assert.ok(m, r.output.slice(-2000));
    password = m[1]!;
    assert.equal(r.output.split(password).length - 1, 1, 'shown exactly once');
    assert.ok(r.output.trimEnd().endsWith(password), 'at the end');
    const manifest = JSON.parse(await readFile(join(out, 'busybox.manifest.json'), 'utf8'));
    assert.deepEqual(manifest.passwords, { root_password: 'generated' });
    assert.deepEqual(await holding([...(await filesUnder(out)).filter((f) => !f.endsWith('.img')), ...(await filesUnder(journalDir()))], password), []);
    assert.deepEqual(
      (await readdir(out)).filter((f) => f.endsWith('.password')),
      [],
      'on a terminal no password file',
    );
  });

  it('umlbuild test without a password and no terminal: says exactly how to give it', async () => {
    const r = await exec(BIN, ['test', out, '--no-network'], { reject: false, input: '' });
    assert.equal(r.exitCode, 2, r.stdout + r.stderr);
    assert.match(r.stderr, /no password to log in as root: root_password was generated at build time/);
    assert.match(r.stderr, /--login root:PASSWORD/);
    assert.match(r.stderr, /UMLBUILD_TEST_PASSWORD=PASSWORD/);
    assert.doesNotMatch(r.stdout, /booting/, 'nothing booted');
  });

  it('umlbuild test in a terminal asks for the password without echo, logs in, and lists netdev as not run', async () => {
    const r = await inPty(['test', out, '--no-network'], { when: /password for root on busybox \(not echoed\): $/, type: password });
    assert.equal(r.exitCode, 0, r.output);
    assert.ok(!r.output.includes(password), 'the typed password is not echoed');
    assert.match(r.output, /^ {2}ok {3}login: root/m);
    assert.match(r.output, /^ {2}skip netdev: not run \(vec0: --no-network\)/m);
    assert.match(r.output, /^PASS: 4 of 4 checks passed, 1 not run; login prompt after/m);
  });

  it('Ctrl-C at the password prompt gives up: exit 130, nothing booted', async () => {
    const r = await inPty(['test', out, '--no-network'], { when: /\(not echoed\): $/, type: '\u0003' });
    assert.equal(r.exitCode, 130, r.output);
    assert.doesNotMatch(r.output, /booting/);
  });

  it('a wrong password: FAIL with a hint, and the checks it could not run listed as not run', async () => {
    const r = await exec(BIN, ['test', out, '--no-network', '--login', 'root:not-the-password'], { reject: false });
    assert.equal(r.exitCode, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /FAIL login: login as root was refused \(wrong password\?\): give the image's password with --login root:PASSWORD or UMLBUILD_TEST_PASSWORD/);
    for (const c of ['hostname', 'root', 'modules', 'netdev']) assert.match(r.stdout, new RegExp(`^ {2}skip ${c}: not run \\(the login failed\\)`, 'm'));
    assert.match(r.stdout, /^FAIL: 0 of 1 checks passed, 4 not run/m);
  });

  it("after a build with --set root_password=change-me (the README's), umlbuild test on a terminal asks instead of trying the recipe default", async () => {
    const out3 = join(dir.path, 'out3');
    const b = await exec(BIN, [join(PROJECT, 'recipes/busybox.yml'), '--out', out3, '--cache-dir', join(dir.path, 'cache'), '--renderer', 'simple', '--no-checksum', '--set', 'root_password=change-me'], { reject: false });
    assert.equal(b.exitCode, 0, `${b.stdout.slice(-3000)}\n${b.stderr}`);
    assert.deepEqual(JSON.parse(await readFile(join(out3, 'busybox.manifest.json'), 'utf8')).passwords, { root_password: 'given' });
    const r = await inPty(['test', out3, '--no-network'], { when: /password for root on busybox \(not echoed\): $/, type: 'change-me' });
    assert.equal(r.exitCode, 0, r.output);
    assert.ok(!r.output.includes('change-me'), 'not echoed');
    assert.match(r.output, /^PASS: 4 of 4 checks passed, 1 not run/m);
  });

  it('--log-format ndjson (no terminal): the password goes to a 0600 file only, and logs in with --test', async () => {
    const out2 = join(dir.path, 'out2');
    const r = await exec(BIN, [join(PROJECT, 'recipes/busybox.yml'), '--out', out2, '--cache-dir', join(dir.path, 'cache'), '--log-format', 'ndjson', '--no-checksum', '--test', '--no-network'], { reject: false });
    assert.equal(r.exitCode, 0, `${r.stdout.slice(-3000)}\n${r.stderr}`);
    const file = join(out2, 'busybox.password');
    const pw = (await readFile(file, 'utf8')).trim();
    assert.match(pw, /^\S{5}-\S{5}-\S{5}-\S{5}$/);
    assert.match(r.stderr, /root_password was generated: written to .*busybox\.password \(mode 0600/);
    assert.ok(!r.stdout.includes(pw) && !r.stderr.includes(pw), 'not in the events or on stderr');
    for (const line of r.stdout.split('\n').filter((l) => l.startsWith('{'))) JSON.parse(line);
    assert.match(r.stdout, /PASS: 4 of 4 checks passed, 1 not run/);
    assert.deepEqual(await holding([...(await filesUnder(out2)).filter((f) => !f.endsWith('.img') && f !== file), ...(await filesUnder(journalDir()))], pw), []);
    // And it is the image's password.
    const t = await exec(BIN, ['test', out2, '--no-network'], { reject: false, env: { UMLBUILD_TEST_PASSWORD: pw } });
    assert.equal(t.exitCode, 0, t.stdout + t.stderr);
  });
});
