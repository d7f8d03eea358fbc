/** tune-uml on small hand-made trees: which generators and units it masks, and what it decides from the tree. */
import assert from 'node:assert/strict';
import { lstat, mkdir, readFile, readlink, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { createContext } from '../../src/runner/context.js';
import { Teardown } from '../../src/host/teardown.js';
import { loadRecipe } from '../../src/recipe/load.js';
import { MASKED, MASKED_GENERATORS, tuneUml } from '../../src/steps/tune-uml.js';
import { tempDir, type TempDir } from '../helpers.js';

describe('tune-uml', () => {
  let dir: TempDir;
  before(async () => {
    dir = await tempDir();
  });
  after(async () => {
    await dir.remove();
  });

  /** A tree with systemd's binary and the given files (a value starting with "->" is a symbolic link). */
  async function tune(name: string, files: Record<string, string>, options: unknown = {}) {
    const root = join(dir.path, name);
    for (const [p, content] of Object.entries({ '/lib/systemd/systemd': '', '/usr/.keep': '', ...files })) {
      await mkdir(dirname(join(root, p)), { recursive: true });
      if (content.startsWith('->')) await symlink(content.slice(2), join(root, p));
      else await writeFile(join(root, p), content);
    }
    const plan = await loadRecipe(await dir.write(`${name}.yml`, `name: ${name}\nsteps:\n  - step: directory\n`));
    const ctx = createContext(plan, join(dir.path, `${name}.img`), new Teardown(), new AbortController().signal);
    ctx.rootfs = root;
    await tuneUml.run(tuneUml.schema.parse(options), ctx);
    const masked = async (p: string) => (await lstat(join(root, p)).catch(() => undefined))?.isSymbolicLink() && (await readlink(join(root, p))) === '/dev/null';
    const text = (p: string) => readFile(join(root, p), 'utf8').catch(() => undefined);
    return { masked, text };
  }

  it('masks the generators and units with nothing to do under UML, keeps fstab, getty and what `keep` names', async () => {
    const t = await tune(
      'plain',
      { '/etc/init.d/hwclock.sh': '', '/lib/systemd/system/hwclock.service': '->/dev/null', '/etc/modules': '# /etc/modules: kernel modules to load at boot time.\n\n' },
      { keep: ['dev-mqueue.mount', 'systemd-run-generator'] },
    );
    for (const g of [...MASKED_GENERATORS.filter((g) => g !== 'systemd-run-generator'), 'systemd-sysv-generator', 'systemd-rc-local-generator']) assert.ok(await t.masked(`/etc/systemd/system-generators/${g}`), g);
    for (const g of ['systemd-fstab-generator', 'systemd-getty-generator', 'systemd-run-generator']) assert.ok(!(await t.masked(`/etc/systemd/system-generators/${g}`)), g);
    for (const u of ['systemd-journal-flush.service', 'systemd-update-utmp.service', 'systemd-update-utmp-runlevel.service', 'systemd-random-seed.service']) {
      assert.ok(MASKED.includes(u));
      assert.ok(await t.masked(`/etc/systemd/system/${u}`), u);
    }
    for (const u of ['dev-mqueue.mount', 'systemd-sysctl.service', 'systemd-remount-fs.service', 'systemd-modules-load.service']) assert.ok(!(await t.masked(`/etc/systemd/system/${u}`)), u);
    // remount-fs: skipped only with both rw and rootflags= on the kernel command line.
    assert.match((await t.text('/etc/systemd/system/systemd-remount-fs.service.d/umlbuild-tune.conf'))!, /^ConditionKernelCommandLine=\|!rw\nConditionKernelCommandLine=\|!rootflags$/m);
    // modules-load: /etc/modules names nothing, so Debian's modules.conf link alone no longer starts it; any other file does.
    const dropin = (await t.text('/etc/systemd/system/systemd-modules-load.service.d/umlbuild-tune.conf'))!;
    assert.match(dropin, /^ConditionDirectoryNotEmpty=$/m);
    assert.match(dropin, /^ConditionCapability=CAP_SYS_MODULE$/m);
    const globs = [...dropin.matchAll(/^ConditionPathExistsGlob=\|\/etc\/modules-load\.d\/(.*)$/gm)].map((m) => new RegExp(`^${m[1]!.replace(/\./g, '\\.').replace(/\[!/g, '[^').replace(/\*/g, '.*').replace(/\?/g, '.')}$`));
    const starts = (n: string) => globs.some((g) => g.test(n));
    assert.ok(!starts('modules.conf'));
    // The console getty: login prompts at once (agetty sleeps 1 s first on a line that is not a virtual console).
    assert.match((await t.text('/etc/systemd/system/getty@.service.d/umlbuild-tune.conf'))!, /^TTYRows=24\n[\s\S]*^ExecStart=\nExecStart=-\/bin\/login -p$/m);
    for (const n of ['loop.conf', 'mod.conf', 'modules.conf2', 'zz.conf', 'modules-extra.conf', 'm.conf']) assert.ok(starts(n), n);
  });

  it('keeps sysv when an init script has no unit, rc-local when there is /etc/rc.local, modules-load when /etc/modules names a module, agetty when kept', async () => {
    const t = await tune('legacy', { '/etc/init.d/legacyd': '#!/bin/sh\n', '/etc/rc.local': '#!/bin/sh\n', '/etc/modules': '# modules\nloop\n' }, { keep: ['getty@.service'] });
    const getty = (await t.text('/etc/systemd/system/getty@.service.d/umlbuild-tune.conf'))!;
    assert.match(getty, /^TTYRows=24$/m);
    assert.doesNotMatch(getty, /ExecStart/, 'keep: [getty@.service] keeps agetty');
    assert.ok(!(await t.masked('/etc/systemd/system-generators/systemd-sysv-generator')));
    assert.ok(!(await t.masked('/etc/systemd/system-generators/systemd-rc-local-generator')));
    assert.ok(await t.masked('/etc/systemd/system-generators/systemd-debug-generator'));
    assert.equal(await t.text('/etc/systemd/system/systemd-modules-load.service.d/umlbuild-tune.conf'), undefined);
  });

  it("keeps agetty on Debian 11 (bullseye's login prints no prompt when agetty did not start it), runs login from Debian 12 on", async () => {
    const old = await tune('bullseye', { '/etc/debian_version': '11.11\n' });
    assert.doesNotMatch((await old.text('/etc/systemd/system/getty@.service.d/umlbuild-tune.conf'))!, /ExecStart/);
    const current = await tune('bookworm', { '/etc/debian_version': '12.12\n' });
    assert.match((await current.text('/etc/systemd/system/getty@.service.d/umlbuild-tune.conf'))!, /^ExecStart=-\/bin\/login -p$/m);
  });

  it('refuses a keep entry that is neither a unit nor a generator', () => {
    for (const bad of ['../../etc/passwd', 'systemd-x-generator/../../y', 'foo']) assert.equal(tuneUml.schema.safeParse({ keep: [bad] }).success, false, bad);
  });
});
