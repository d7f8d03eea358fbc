import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { exec } from '../../src/host/exec.js';
import { BIN, tempDir, type TempDir } from '../helpers.js';
import { collectExpect } from '../../src/cli.js';

const cli = (args: string[], env: Record<string, string> = {}) => exec(BIN, args, { reject: false, env: { ...env, PATH: process.env.PATH! } });

describe('umlbuild CLI', function () {
  this.timeout(30000);
  let dir: TempDir;
  beforeEach(async () => {
    dir = await tempDir();
  });
  afterEach(() => dir.remove());

  it('exits 2 with every recipe problem located, no stack trace, nothing created', async () => {
    const file = await dir.write('bad.yml', 'name: bad\nsteps:\n  - step: sparse-disk\n    size: huge\n  - step: nope\n');
    const r = await cli([file, '--out', `${dir.path}/out`]);
    assert.equal(r.exitCode, 2);
    assert.match(r.stderr, /bad\.yml:4:11: steps\[0\]\.size: cannot parse size "huge"/);
    assert.match(r.stderr, /bad\.yml:5:11: steps\[1\]\.step: unknown step kind "nope"/);
    assert.doesNotMatch(r.stderr, /^\s+at /m);
    assert.deepEqual(await readdir(dir.path), ['bad.yml']);
  });

  it('exits 2 for bad arguments', async () => {
    assert.equal((await cli(['build'])).exitCode, 2);
    assert.equal((await cli(['--no-such-option', 'x.yml'])).exitCode, 2);
    const r = await cli(['x.yml', '--set', 'novalue']);
    assert.equal(r.exitCode, 2);
    assert.match(r.stderr, /use --set key=value/);
  });

  it('lists the step kinds with their options, hiding test-only steps', async () => {
    const r = await cli(['steps']);
    assert.equal(r.exitCode, 0);
    for (const kind of ['sparse-disk', 'mkfs', 'mount', 'debootstrap', 'password', 'template', 'modules', 'overlay', 'run', 'unmount']) {
      assert.match(r.stdout, new RegExp(`^${kind}  `, 'm'));
    }
    assert.match(r.stdout, /^ {4}suite: string \(required\)$/m);
    assert.doesNotMatch(r.stdout, /^(echo|fail) /m);
  });

  it('--dry-run prints the resolved plan with secrets redacted', async () => {
    const file = await dir.write('r.yml', 'name: r\nvariables: {root_password: pw-for-dry-run, hostname: h}\nsteps:\n  - step: sparse-disk\n    size: 16M\n  - step: echo\n    message: ${hostname}\n');
    const r = await cli([file, '--dry-run', '--set', 'hostname=dry', '--out', `${dir.path}/out`], { UMLBUILD_VAR_ROOT_PASSWORD: 'env-secret-pw' });
    assert.equal(r.exitCode, 0, r.stderr);
    assert.match(r.stdout, /root_password: "\*\*\*"/);
    assert.match(r.stdout, /message: dry/);
    assert.doesNotMatch(r.stdout + r.stderr, /pw-for-dry-run|env-secret-pw/);
    assert.deepEqual(await readdir(dir.path), ['r.yml']);
  });

  it("a secret in a failing step's error message is masked, and nothing is left", async () => {
    const file = await dir.write('r.yml', 'name: r\nvariables:\n  token: {default: "", secret: true}\nsteps:\n  - step: directory\n  - step: fail\n    message: "cannot use token ${token}"\n');
    const r = await cli([file, '--out', `${dir.path}/out`, '--renderer', 'simple'], { UMLBUILD_VAR_TOKEN: 'tok-very-secret' });
    assert.equal(r.exitCode, 1, r.stderr);
    assert.match(r.stderr, /failed: cannot use token \*\*\*/);
    assert.doesNotMatch(r.stdout + r.stderr, /tok-very-secret/);
    assert.deepEqual(await readdir(`${dir.path}/out`), []);
  });

  it('--expect splits COMMAND=REGEX at the last =, so commands may hold one', () => {
    const [[cmd, re]] = collectExpect('echo rc=$?=^rc:0$', []) as [[string, RegExp]];
    assert.equal(cmd, 'echo rc=$?');
    assert.equal(re.source, '^rc:0$');
    assert.throws(() => collectExpect('no-equals-sign', []), /use --expect "COMMAND=REGEX"/);
  });
});
