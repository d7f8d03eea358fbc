import assert from 'node:assert/strict';
import type { Network } from '../../src/launch/transports.js';
import { runChecks, type BootTestOptions } from '../../src/uml/boot-test.js';
import { UmlConsole } from '../../src/uml/console.js';
import type { BuiltImage } from '../../src/uml/target.js';
import { fakeGuest } from '../support/fake-guest.js';

const MOUNTINFO = `awk '$5 == "/" { split($0, a, " - "); split(a[2], b, " "); dev = $3; fs = b[1] } END { print dev, fs }' /proc/self/mountinfo`;
const MODULES = 'test -d /lib/modules/$(uname -r) && uname -r';

/** Each check run against a guest that answers with `answers` (command -> "output\nstatus"); what each check said. */
async function checks(test: Partial<BuiltImage['test']>, answers: Record<string, string>, o: Partial<BootTestOptions> = {}, networks: Partial<Network>[] = []) {
  const g = fakeGuest({ password: 'pw', answers });
  const con = new UmlConsole(g.out, g.input);
  setTimeout(g.boot, 5);
  assert.equal((await con.login('root', 'pw', 5)).refused, false);
  const img = { test: { user: 'root', root: 'ubd', expect: {}, login_timeout: 5, ...test } } as unknown as BuiltImage;
  const got: Record<string, [boolean | 'not run', string]> = {};
  await runChecks(
    con,
    img,
    { expect: [], isolateNetwork: true, ...o } as BootTestOptions,
    networks as Network[],
    (n, ok, d) => (got[n] = [ok, d]),
    (n, why) => (got[n] = ['not run', why]),
  );
  return got;
}

const HEALTHY = { 'cat /proc/sys/kernel/hostname': 'uml\n0', [MOUNTINFO]: '98:0 ext4\n0', 'cat /sys/block/ubda/dev': '98:0\n0', [MODULES]: '6.1.0\n0', 'test -e /sys/class/net/vec0': '\n0', 'uname -r': '6.1.0\n0' };

describe('umlbuild test: each boot-test check, against a guest answering over the console', function () {
  this.timeout(20000);

  it('a healthy guest passes hostname, root, modules, netdev and expect, each saying what it saw', async () => {
    const got = await checks({ hostname: 'uml', netdev: 'vec0', expect: { 'uname -r': '^6\\.' } }, HEALTHY, {}, [{ device: 'vec0' }]);
    assert.deepEqual(got, {
      hostname: [true, 'uml (expected uml)'],
      root: [true, '/ is on 98:0 ext4 (ubda is 98:0)'],
      modules: [true, '/lib/modules/6.1.0'],
      netdev: [true, 'vec0 exists'],
      'expect uname -r': [true, '"6.1.0" matches /^6\\./m'],
    });
  });

  it('each check fails on its own wrong answer', async () => {
    const got = await checks(
      { hostname: 'uml', netdev: 'vec0', expect: { 'uname -r': '^5\\.' } },
      { ...HEALTHY, 'cat /proc/sys/kernel/hostname': 'other\n0', [MOUNTINFO]: '0:22 tmpfs\n0', [MODULES]: '\n1', 'test -e /sys/class/net/vec0': '\n1' },
      {},
      [{ device: 'vec0' }],
    );
    assert.deepEqual(got.hostname, [false, 'other (expected uml)']);
    assert.deepEqual(got.root, [false, '/ is on 0:22 tmpfs (ubda is 98:0)']);
    assert.deepEqual(got.modules, [false, 'no /lib/modules/$(uname -r)']);
    assert.deepEqual(got.netdev, [false, 'vec0 is missing']);
    assert.deepEqual(got['expect uname -r'], [false, 'output does not match /^5\\./m:\n6.1.0']);
  });

  it('a hostfs root must be hostfs; --hostname overrides the recorded one; --expect adds checks', async () => {
    const got = await checks({ root: 'hostfs', hostname: 'recorded' }, { ...HEALTHY, [MOUNTINFO]: '0:30 hostfs\n0', id: 'uid=0(root)\n0' }, { hostname: 'uml', expect: [['id', /uid=0/]] });
    assert.deepEqual(got.root, [true, '/ is 0:30 hostfs (expected hostfs)']);
    assert.deepEqual(got.hostname, [true, 'uml (expected uml)']);
    assert.equal(got['expect id']![0], true);
  });

  it('netdev without its network is "not run" (saying why), never a pass', async () => {
    const got = await checks({ netdev: 'vec0' }, HEALTHY, { isolateNetwork: false });
    assert.deepEqual(got.netdev, ['not run', 'vec0: --no-network']);
    assert.equal(got.hostname, undefined, 'no hostname recorded or given: no hostname check');
  });
});
