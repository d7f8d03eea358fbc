/**
 * The fast-boot kernel arguments (launch.fast_boot, default on) as a person
 * gets them: recipes/busybox.yml built with bin/umlbuild and booted with
 * `umlbuild test`, once as shipped and once from a recipe that turns them
 * off. The guest's /proc/cmdline, the launch script and the manifest say
 * which. Costs two small busybox builds and two boots (~10 s).
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { exec } from '../../src/host/exec.js';
import { FAST_BOOT_ARGS } from '../../src/launch/schema.js';
import { BIN, PROJECT, tempDir, type TempDir } from '../helpers.js';
import { requireRootWith } from './host-state.js';

describe('fast-boot kernel arguments (busybox, built and booted)', function () {
  this.timeout(5 * 60 * 1000);
  let dir: TempDir;
  const password = 'fast-boot-pw';
  const build = async (recipe: string, out: string) => {
    const r = await exec(BIN, [recipe, '--out', out, '--cache-dir', join(dir.path, 'cache'), '--renderer', 'silent', '--no-checksum', '--set', `root_password=${password}`], { reject: false });
    assert.equal(r.exitCode, 0, r.stdout + r.stderr);
  };
  /** Boots `out` with `umlbuild test`: how many of FAST_BOOT_ARGS the guest's /proc/cmdline has (the check's regex says). */
  const bootExpecting = async (out: string, count: number) => {
    const grep = `tr ' ' '\\n' </proc/cmdline | grep -cx ${FAST_BOOT_ARGS.map((a) => `-e ${a}`).join(' ')}`;
    const r = await exec(BIN, ['test', out, '--no-network', '--login', `root:${password}`, '--expect', `${grep}=^${count}$`], { reject: false });
    assert.equal(r.exitCode, 0, r.stdout + r.stderr);
    assert.match(r.stdout, new RegExp(`^ {2}ok {3}expect tr .*: "${count}" matches`, 'm'));
    return r.stdout;
  };

  before(async function () {
    await requireRootWith(this, 'linux', 'busybox', 'mkfs.ext4', 'setpriv');
    dir = await tempDir('umlbuild-fastboot-', '/var/tmp');
    // What busybox.yml names relative to the recipe that extends it (its overlay and shadow template).
    await exec('cp', ['-r', join(PROJECT, 'recipes/busybox'), dir.path]);
  });
  after(() => dir?.remove());

  it('are on the command line of a shipped recipe: in the guest, the launch script and the boot', async () => {
    const out = join(dir.path, 'on');
    await build(join(PROJECT, 'recipes/busybox.yml'), out);
    await bootExpecting(out, FAST_BOOT_ARGS.length);
    assert.match(await readFile(join(out, 'busybox.sh'), 'utf8'), /^UML_ARGS=\$\{UML_ARGS:-'initcall_blacklist=raid6_select_algo pty\.legacy_count=0 lpj=\d+'\}$/m);
    assert.equal(JSON.parse(await readFile(join(out, 'busybox.manifest.json'), 'utf8')).launch.fast_boot, true);
  });

  it('launch: { fast_boot: false } leaves them off', async () => {
    const recipe = await dir.write('off.yml', `name: off\nextends: ${join(PROJECT, 'recipes/busybox.yml')}\noutput: off\nlaunch:\n  fast_boot: false\n`);
    const out = join(dir.path, 'off');
    await build(recipe, out);
    await bootExpecting(out, 0);
    assert.match(await readFile(join(out, 'off.sh'), 'utf8'), /^UML_ARGS=\$\{UML_ARGS:-''\}$/m);
    const manifest = JSON.parse(await readFile(join(out, 'off.manifest.json'), 'utf8'));
    assert.equal(manifest.launch.fast_boot, false);
    assert.equal(manifest.launch.mem, '64M', 'the rest of busybox.yml launch section is kept');
  });
});
