/**
 * Typed variables through the command a person types (issue 12, 5): a
 * shipped recipe refuses `--set network=bogus`, and `--set network=static`
 * without an address, with exit 2 before anything is created (no output
 * directory, no mount, no loop device under this test's directory). Nothing
 * here reaches a mirror: the recipe is refused before the host checks.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { exec } from '../../src/host/exec.js';
import { BIN, PROJECT, tempDir, type TempDir } from '../helpers.js';

const cli = (args: string[], env: Record<string, string> = {}) => exec(BIN, args, { reject: false, env: { ...env, PATH: process.env.PATH!, HOME: process.env.HOME ?? '/root' } });

describe('typed variables on the command line (bin/umlbuild)', function () {
  this.timeout(60000);
  let dir: TempDir;
  beforeEach(async () => {
    dir = await tempDir('umlbuild-vartypes-');
  });
  afterEach(() => dir.remove());

  const cases: [string, string[], Record<string, string>, RegExp][] = [
    ['--set network=bogus', ['--set', 'network=bogus'], {}, /^umlbuild: --set network: variable "network" must be one of dhcp, static, none; "bogus" is not$/m],
    [
      '--set network=static without an address',
      ['--set', 'network=static'],
      {},
      /^umlbuild: --set network: variable "network" is "static", which requires "address" and "netmask": give them with --set address=\.\.\. --set netmask=\.\.\.$/m,
    ],
    ['UMLBUILD_VAR_NETWORK=static with only an address', ['--set', 'address=192.0.2.10'], { UMLBUILD_VAR_NETWORK: 'static' }, /^umlbuild: UMLBUILD_VAR_NETWORK: variable "network" is "static", which requires "netmask"/m],
  ];
  for (const recipe of ['bookworm.yml', 'busybox.yml']) {
    for (const [what, args, env, expected] of cases) {
      it(`${recipe}: ${what} fails with exit 2 in validate, --dry-run and a build, and nothing is created`, async () => {
        const file = join(PROJECT, 'recipes', recipe);
        const out = join(dir.path, 'out');
        for (const argv of [
          ['validate', file, ...args],
          [file, '--out', out, '--dry-run', ...args],
          [file, '--out', out, '--renderer', 'simple', ...args],
        ]) {
          const r = await cli(argv, env);
          assert.equal(r.exitCode, 2, `${argv.join(' ')}\n${r.stdout}${r.stderr}`);
          assert.match(r.stderr, expected);
          assert.doesNotMatch(r.stderr, /^\s+at /m, 'no stack trace');
          assert.equal(existsSync(out), false, 'no output directory');
        }
        assert.deepEqual(await readdir(dir.path), []);
        const mounts = await readFile('/proc/self/mountinfo', 'utf8');
        assert.equal(mounts.includes(dir.path), false, 'nothing mounted under the test directory');
        const loops = (await exec('losetup', ['-a'], { reject: false })).stdout;
        assert.equal(loops.includes(dir.path), false, 'no loop device on a file of this test');
      });
    }
  }

  it('busybox.yml: --set root_password=s3cr=tPassw0rd validates and the value is never printed; unknown names are told with the closest one', async () => {
    const file = join(PROJECT, 'recipes/busybox.yml');
    const r = await cli(['validate', file, '--set', 'root_password=s3cr=tPassw0rd', '--set', 'transport=tap', '--set', 'hostname=web1']);
    assert.equal(r.exitCode, 0, r.stderr);
    assert.doesNotMatch(r.stdout + r.stderr, /s3cr|tPassw0rd/);
    const typo = await cli(['validate', file, '--set', 'root_pasword=s3cr=tPassw0rd'], { UMLBUILD_VAR_HOSTNMAE: 'x' });
    assert.equal(typo.exitCode, 2);
    assert.match(typo.stderr, /unknown variable "root_pasword" .*did you mean "root_password"\?/);
    assert.doesNotMatch(typo.stdout + typo.stderr, /s3cr|tPassw0rd/);
    const env = await cli(['validate', file], { UMLBUILD_VAR_HOSTNMAE: 'x' });
    assert.equal(env.exitCode, 0, env.stderr);
    assert.match(env.stderr, /^umlbuild: warning: UMLBUILD_VAR_HOSTNMAE names no variable of this recipe, ignored \(did you mean UMLBUILD_VAR_HOSTNAME\?\)$/m);
  });
});
