import assert from 'node:assert/strict';
import { chmod, copyFile, mkdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { RecipeError } from '../../src/errors.js';
import { pidNamespace } from '../../src/host/lock-file.js';
import { processIdentity, sameProcess } from '../../src/host/process-id.js';
import { cleanupStale } from '../../src/host/journal.js';
import { asGuest } from '../../src/uml/guest.js';
import { guestTempDir } from '../../src/uml/guest-files.js';
import { checkManifest, kernelArgProblem } from '../../src/uml/manifest-schema.js';
import { FAST_BOOT_ARGS } from '../../src/launch/schema.js';
import { tempDir, type TempDir } from '../helpers.js';

const GOOD = { recipe: { name: 'x' }, image: { file: 'x.img' }, umid: 'x', launch: { script: 'x.sh', mem: '64M', args: ['quiet', 'loglevel=3', 'systemd.unit=multi-user.target', 'hostfs=/proc/umlbuild-no-hostfs'] } };

describe('guests are untrusted', () => {
  describe("the guest's temporary directory", () => {
    it('lives in $TMPDIR when the guest user can reach it, else in /tmp, and belongs to that user', async () => {
      const t = await tempDir('guest-tmp-', '/var/tmp');
      const saved = process.env.TMPDIR;
      const who = { name: 'nobody', uid: 65534, gid: 65534 };
      try {
        process.env.TMPDIR = t.path;
        await chmod(t.path, 0o700);
        const locked = await guestTempDir('umlbuild-unit-', who);
        assert.ok(locked.path.startsWith('/tmp/umlbuild-unit-'), locked.path);
        assert.equal((await stat(locked.path)).uid, 65534);
        await locked.cleanup();
        await chmod(t.path, 0o755);
        const open = await guestTempDir('umlbuild-unit-', who);
        assert.ok(open.path.startsWith(`${t.path}/umlbuild-unit-`), open.path);
        await open.cleanup();
      } finally {
        if (saved === undefined) delete process.env.TMPDIR;
        else process.env.TMPDIR = saved;
        await t.remove();
      }
    });
  });

  describe('manifest checks', () => {
    it('accepts what umlbuild writes', () => {
      const m = checkManifest('m.json', JSON.stringify(GOOD));
      assert.equal(m.launch.script, 'x.sh');
      assert.equal(m.test.user, 'root');
    });

    for (const arg of [
      'ubd1=/dev/sda',
      'ubd0r=/etc/shadow',
      'hostfs=/',
      'con=pts',
      'con1=tty:/dev/tty1',
      'ssl0=port:23',
      'umid=other',
      'uml_dir=/root',
      'mem=1T',
      'vec0:transport=raw,ifname=eth0',
      'eth0=tuntap,tap0',
      'initrd=/etc/shadow',
      'iomem=x,/etc/shadow',
      'mconsole=notify:/tmp/sock',
      'init=../../x',
      'loglevel=9',
      'rootfstype=hostfs',
      'rootflags=errors=remount-ro;reboot',
      'rootflags=a b',
      'initcall_blacklist=../x',
      'lpj=-1',
      'pty.legacy_count=lots',
    ]) {
      it(`refuses the kernel argument ${arg}`, () => assert.ok(kernelArgProblem(arg)));
    }
    it('allows the fast-boot arguments and rw rootflags= (the launch settings umlbuild writes)', () => {
      for (const arg of [...FAST_BOOT_ARGS, 'rw', 'rootflags=errors=remount-ro', 'rootflags=discard,errors=remount-ro', 'initcall_blacklist=a,b']) assert.equal(kernelArgProblem(arg), undefined, arg);
      const m = checkManifest('x.manifest.json', JSON.stringify({ ...GOOD, launch: { ...GOOD.launch, fast_boot: false, args: ['rw', 'rootflags=errors=remount-ro'] } }));
      assert.equal(m.launch.fast_boot, false);
      assert.equal(checkManifest('x.manifest.json', JSON.stringify(GOOD)).launch.fast_boot, true, 'an older manifest without the key boots with them');
    });

    const bad: [string, unknown, RegExp][] = [
      ['a disk outside the directory', { ...GOOD, launch: { ...GOOD.launch, disks: [{ file: '../x' }] } }, /launch\.disks\.0\.file/],
      ['an absolute image', { ...GOOD, image: { file: '/etc/shadow' } }, /image\.file/],
      ['an unknown launch key', { ...GOOD, launch: { ...GOOD.launch, kernel: '/tmp/evil' } }, /launch/],
      ['a root that is not a ubd', { ...GOOD, launch: { ...GOOD.launch, root: '/dev/sda' } }, /launch\.root/],
      ['a bad umid', { ...GOOD, umid: '../x' }, /umid/],
      ['a newline in a script name', { ...GOOD, launch: { ...GOOD.launch, script: 'a\n.sh' } }, /launch/],
    ];
    for (const [name, m, key] of bad) {
      it(`refuses ${name} with a RecipeError (exit 2) naming the file and key`, () => {
        assert.throws(
          () => checkManifest('/out/x.manifest.json', JSON.stringify(m)),
          (e: unknown) => e instanceof RecipeError && e.exitCode === 2 && e.message.startsWith('/out/x.manifest.json: ') && key.test(e.message),
        );
      });
    }
  });

  it('asGuest drops to the user with no groups, no capabilities but the ones asked, no_new_privs', () => {
    assert.deepEqual(asGuest(['linux', 'mem=64M'], undefined), ['linux', 'mem=64M']);
    const argv = asGuest(['linux'], { name: 'g', uid: 999, gid: 995 }, ['net_raw']);
    assert.deepEqual(argv.slice(0, 9), ['setpriv', '--reuid=999', '--regid=995', '--clear-groups', '--inh-caps=-all,+net_raw', '--ambient-caps=+net_raw', '--bounding-set=-all,+net_raw', '--no-new-privs', '--']);
  });

  describe('journalled UML processes', () => {
    let dir: TempDir;
    let linux: string;
    beforeEach(async () => {
      dir = await tempDir();
      // A stand-in for the UML kernel: a program named linux with umid= in its argv.
      linux = join(dir.path, 'linux');
      await copyFile('/usr/bin/perl', linux);
    });
    afterEach(() => dir.remove());

    const journal = async (resources: unknown[]) => {
      const run = join(dir.path, 'run');
      await mkdir(run, { recursive: true });
      await writeFile(join(run, 'dead.json'), JSON.stringify({ pid: 999999999, pidns: pidNamespace(), started: 'then', argv: [], resources }));
      return run;
    };

    it('cleanup kills the recorded process (and its children) while it is the same one', async () => {
      const child = execa(linux, ['-e', 'fork or sleep 100; sleep 100', 'umid=unit-999999999-a'], { reject: false });
      const id = processIdentity(child.pid!)!;
      const report = await cleanupStale(await journal([{ id: 1, kind: 'process', ...id, umid: 'unit-999999999-a' }]));
      await child;
      assert.equal(sameProcess(id), false);
      assert.match(report.actions.join('\n'), /killed UML unit-999999999-a/);
    });

    it('cleanup leaves alone a process whose start time, or umid, is not the recorded one (pid reuse)', async () => {
      const child = execa(linux, ['-e', 'sleep 100', 'umid=unit-999999999-b'], { reject: false });
      try {
        const id = processIdentity(child.pid!)!;
        await cleanupStale(await journal([{ id: 1, kind: 'process', ...id, start: String(Number(id.start) - 1), umid: 'unit-999999999-b' }]));
        assert.equal(sameProcess(id), true);
        await cleanupStale(await journal([{ id: 1, kind: 'process', ...id, umid: 'unit-other' }]));
        assert.equal(sameProcess(id), true);
        // The right process, but its umid is not one of the dead run's (a crafted journal naming another's UML).
        const report = await cleanupStale(await journal([{ id: 1, kind: 'process', ...id, umid: 'unit-b' }]));
        assert.equal(sameProcess(id), true);
        assert.match(report.errors.concat(report.actions).join('\n'), /not a UML instance of pid 999999999/);
      } finally {
        child.kill('SIGKILL');
        await child;
      }
    });
  });
});
