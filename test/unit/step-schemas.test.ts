import assert from 'node:assert/strict';
import { STEPS, findStep } from '../../src/steps/index.js';
import { debootstrapArgs, mmdebstrapArgs } from '../../src/steps/debootstrap.js';
import { chooseBackend, unsupported } from '../../src/steps/bootstrap-args.js';
import { mkfsArgs } from '../../src/steps/mkfs.js';

/** One good and one bad option set for every step kind. */
const CASES: Record<string, { good: unknown; bad: unknown; badMessage: RegExp }> = {
  'sparse-disk': { good: { size: '2G' }, bad: { size: '1K' }, badMessage: /too small/ },
  mkfs: { good: { fs: 'ext4', label: 'root', uuid: '0b5f6a4e-1111-4222-8333-444455556666' }, bad: { fs: 'ext4', uuid: 'nope' }, badMessage: /not a UUID/ },
  directory: { good: { tmpfs: true }, bad: { fs: 'xfs' }, badMessage: /Invalid option/ },
  pack: { good: { size: '2G', label: 'root' }, bad: { size: '1K' }, badMessage: /at least 8M/ },
  mount: { good: {}, bad: { options: ['rw;rm -rf /'] }, badMessage: /Invalid/ },
  debootstrap: { good: { suite: 'bookworm', include: ['systemd-sysv'] }, bad: { suite: 'bookworm; rm' }, badMessage: /not a valid name/ },
  password: { good: { users: [{ user: 'root', password: 'x' }] }, bad: { users: [{ user: 'root' }] }, badMessage: /give one of password, hash/ },
  template: { good: { template: 'fstab' }, bad: { template: 'my.ejs' }, badMessage: /dest is required/ },
  modules: { good: {}, bad: { version: '../../etc' }, badMessage: /Invalid/ },
  kernel: { good: { fragments: ['debug.config'], options: { CONFIG_DUMMY: 'm', CONFIG_LOCALVERSION: '"-x"', CONFIG_LOG_BUF_SHIFT: 17 } }, bad: { options: { HOSTFS: 'y' } }, badMessage: /CONFIG_NAME/ },
  overlay: { good: { source: 'x', dest: '/etc' }, bad: { source: 'x', dest: '/etc/../../host' }, badMessage: /must not contain/ },
  run: { good: { command: 'true' }, bad: { command: 'a', script: 'b' }, badMessage: /exactly one of command, script or argv/ },
  'rootfs-tarball': { good: { source: 'rootfs.tar.zst' }, bad: { source: '' }, badMessage: /Too small/ },
  'rootfs-dir': { good: { source: 'target', owner: 'root:root' }, bad: { source: 'x', owner: 'bob' }, badMessage: /root:root or numeric/ },
  hook: { good: { script: 'post.sh', args: ['a', 1] }, bad: { script: 'x', stage: 'whenever' }, badMessage: /Invalid option/ },
  lockdown: { good: {}, bad: { modules: false }, badMessage: /Unrecognized key/ },
  reproducible: { good: { epoch: 1700000000 }, bad: { epoch: -1 }, badMessage: /expected number to be >0|Too small/ },
  'tune-uml': { good: { mask: ['foo.service'] }, bad: { mask: ['../../etc/passwd'] }, badMessage: /Invalid/ },
  unmount: { good: {}, bad: { fsck: 'yes' }, badMessage: /expected boolean/ },
  echo: { good: { message: 'hi' }, bad: {}, badMessage: /expected string/ },
  fail: { good: {}, bad: { message: 3 }, badMessage: /expected string/ },
  'fake-kernel': { good: { from: '/k', entry: '/e', release: '6.1.176' }, bad: { from: 'k', entry: '/e', release: '6.1.176' }, badMessage: /must start with/ },
};

describe('step schemas', () => {
  for (const step of STEPS) {
    it(`${step.kind}: accepts a good example, rejects a bad one and unknown keys`, () => {
      const c = CASES[step.kind];
      assert.ok(c, `no test case for step ${step.kind}`);
      assert.equal(step.schema.safeParse(c.good).success, true, JSON.stringify(step.schema.safeParse(c.good)));
      const bad = step.schema.safeParse(c.bad);
      assert.equal(bad.success, false);
      assert.match(JSON.stringify(bad.error?.issues.map((i) => i.message)), c.badMessage);
      const unknown = step.schema.safeParse({ ...(c.good as object), bogus_key: 1 });
      assert.equal(unknown.success, false);
      assert.ok(unknown.error?.issues.some((i) => i.code === 'unrecognized_keys'));
    });
  }

  it('debootstrap builds its command line in order', () => {
    const o = findStep('debootstrap')!.schema.parse({ suite: 'bookworm', variant: 'minbase', include: ['a', 'b'], components: ['main', 'contrib'] });
    assert.deepEqual(debootstrapArgs(o, 'http://m.example.test/debian', '/r'), ['--variant=minbase', '--components=main,contrib', '--include=a,b', 'bookworm', '/r', 'http://m.example.test/debian']);
  });

  it('mmdebstrap gets the same options in its own words, plus mirrors and hooks', () => {
    const o = findStep('debootstrap')!.schema.parse({
      suite: 'bookworm',
      backend: 'mmdebstrap',
      variant: 'default',
      include: ['a'],
      arch: 'amd64',
      mirrors: ['deb http://m2.example.test/debian bookworm contrib'],
      hooks: { customize: ['echo x > "$1/etc/x"'] },
    });
    assert.deepEqual(mmdebstrapArgs(o, 'http://m.example.test/debian', '/r'), [
      '--mode=root',
      '--format=directory',
      '--skip=check/empty',
      '--variant=debootstrap',
      '--components=main',
      '--include=a',
      '--architectures=amd64',
      '--customize-hook=echo x > "$1/etc/x"',
      'bookworm',
      '/r',
      'http://m.example.test/debian',
      'deb http://m2.example.test/debian bookworm contrib',
    ]);
    assert.deepEqual(unsupported(o), []);
  });

  it('options one backend cannot honour are named with the reason', () => {
    const mm = findStep('debootstrap')!.schema.parse({ suite: 'bookworm', backend: 'mmdebstrap', exclude: ['x'], variant: 'fakechroot' });
    assert.deepEqual(
      unsupported(mm).map(([k]) => k),
      ['exclude', 'variant'],
    );
    const db = findStep('debootstrap')!.schema.parse({ suite: 'bookworm', mirrors: ['http://m2.example.test/debian'], hooks: { setup: ['true'] } });
    assert.deepEqual(
      unsupported(db).map(([k]) => k),
      ['mirrors', 'hooks.setup'],
    );
  });

  it('backend: auto (the default) is mmdebstrap when installed, debootstrap otherwise or for options only debootstrap has; the title says which', () => {
    const parse = (o: object) => findStep('debootstrap')!.schema.parse({ suite: 'bookworm', ...o }) as Parameters<typeof chooseBackend>[0];
    const has = (tools: string[]) => (t: string) => tools.includes(t);
    assert.equal(parse({}).backend, 'auto');
    assert.equal(chooseBackend(parse({}), has(['mmdebstrap', 'debootstrap'])), 'mmdebstrap');
    assert.equal(chooseBackend(parse({}), has(['debootstrap'])), 'debootstrap');
    assert.equal(chooseBackend(parse({ exclude: ['x'] }), has(['mmdebstrap'])), 'debootstrap', 'mmdebstrap has no --exclude');
    assert.equal(chooseBackend(parse({ variant: 'fakechroot' }), has(['mmdebstrap'])), 'debootstrap');
    assert.equal(chooseBackend(parse({ backend: 'debootstrap' }), has(['mmdebstrap'])), 'debootstrap', 'a named backend is kept');
    assert.equal(chooseBackend(parse({ backend: 'mmdebstrap' }), has([])), 'mmdebstrap');
    const step = findStep('debootstrap')!;
    assert.equal(step.title(step.schema.parse({ suite: 'bookworm', backend: 'debootstrap', variant: 'minbase' })), 'Debootstrap bookworm (minbase)');
    assert.equal(step.title(step.schema.parse({ suite: 'bookworm', backend: 'mmdebstrap' })), 'mmdebstrap bookworm');
  });

  it('mkfs passes label, uuid and extra options', () => {
    const o = findStep('mkfs')!.schema.parse({ label: 'root', uuid: '0b5f6a4e-1111-4222-8333-444455556666', options: ['-O', '^has_journal'] });
    assert.deepEqual(mkfsArgs(o, 'x.img'), ['-F', '-q', '-L', 'root', '-U', '0b5f6a4e-1111-4222-8333-444455556666', '-O', '^has_journal', 'x.img']);
  });
});
