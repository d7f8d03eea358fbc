/**
 * Variables given on the command line reach the boot test: `--set
 * root_password=X --test` logs in with X (handed over in memory), and X is
 * in no output file and no other process's command line.
 */
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { exec } from '../../src/host/exec.js';
import { BIN, PROJECT, tempDir, type TempDir } from '../helpers.js';
import { loopsFor, requireRootWith, watchCmdlines } from './host-state.js';

describe('variables: --set values reach the boot test', function () {
  this.timeout(10 * 60 * 1000);
  let dir: TempDir;
  before(async function () {
    await requireRootWith(this, 'busybox', 'linux');
    dir = await tempDir('umlbuild-vars-', '/var/tmp');
  });
  after(() => dir?.remove());

  it('--set root_password=X --test logs in with X, and X is in no output file and no other command line', async () => {
    const secret = 'Set-Pw-4e1c9b';
    const out = join(dir.path, 'out');
    const watch = watchCmdlines(secret);
    const r = await exec(BIN, [join(PROJECT, 'recipes/busybox.yml'), '--out', out, '--cache-dir', join(dir.path, 'cache'), '--renderer', 'simple', '--set', `root_password=${secret}`, '--test', '--no-network'], { reject: false });
    const { hits } = await watch.stop();
    assert.equal(r.exitCode, 0, `${r.stdout.slice(-4000)}\n${r.stderr}`);
    assert.match(r.stdout, /^PASS: \d+ of \d+ checks passed(, \d+ not run)?; login prompt after/m);
    assert.doesNotMatch(r.stdout + r.stderr, new RegExp(secret));
    // Only umlbuild's own argv (where the user put it) holds it: nothing umlbuild started.
    assert.deepEqual(
      hits.filter((h) => !h.includes(`--set root_password=${secret}`)),
      [],
    );
    const files = await readdir(out);
    assert.deepEqual(files.sort(), ['busybox.img', 'busybox.img.bmap', 'busybox.manifest.json', 'busybox.sh']);
    for (const f of files) assert.equal((await readFile(join(out, f))).indexOf(secret), -1, `${f} holds the password`);
    assert.deepEqual(await loopsFor(out), []);
  });
});
