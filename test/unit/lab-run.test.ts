/** The lab runtime's pure parts (issue 16): what a Lab must hold, MACs, pts announcements, check lines, namespace names. */
import assert from 'node:assert/strict';
import { checkLine } from '../../src/lab/checks.js';
import { checkLab, labMac } from '../../src/lab/run.js';
import { ownNetns } from '../../src/host/journal-verify.js';
import type { Lab } from '../../src/model/lab.js';
import { labNetnsName } from '../../src/uml/lab-net.js';
import { announcedPts } from '../../src/uml/pts.js';

const W = 'lab.yml:1:1';
const lab = (patch: (l: Lab) => void = () => undefined): Lab => {
  const l: Lab = {
    name: 'net',
    file: '/labs/net.yml',
    dir: '/labs',
    format: 'umlbuild',
    segments: [{ name: 'lan', where: W }],
    machines: ['a', 'b'].map((name) => ({ name, source: { kind: 'image', image: '/out/x.img' }, interfaces: [{ name: 'eth0', segment: 'lan' }], routes: [], files: [], startup: [], after: [], where: W })),
    checks: [],
  };
  patch(l);
  return l;
};

describe('lab runtime: pure parts', () => {
  it('checkLab accepts a good lab and refuses what the runtime cannot run, naming where', () => {
    checkLab(lab());
    const refused: [string, (l: Lab) => void, RegExp][] = [
      [
        'a bad lab name',
        (l) => {
          l.name = '../x';
        },
        /the lab name "\.\.\/x"/,
      ],
      [
        'an uplink',
        (l) => {
          l.segments[0]!.uplink = 'eth0';
        },
        /lab\.yml:1:1: segment lan: uplink eth0 would connect the lab.s machines to this host.s network: allow it with --allow-uplink/,
      ],
      [
        'an unknown segment',
        (l) => {
          l.machines[0]!.interfaces[0]!.segment = 'wan';
        },
        /a eth0: no segment wan/,
      ],
      [
        'two machines of one name',
        (l) => {
          l.machines[1]!.name = 'a';
        },
        /a second machine named a/,
      ],
      [
        'after no machine',
        (l) => {
          l.machines[0]!.after = ['c'];
        },
        /a is after c, which is no machine/,
      ],
      [
        'a cycle of after',
        (l) => {
          l.machines[0]!.after = ['b'];
          l.machines[1]!.after = ['a'];
        },
        /the machines a, b wait for each other/,
      ],
      ['a check on no machine', (l) => void l.checks.push({ kind: 'ping', name: 'p', machine: 'z', address: '10.0.0.1', count: 1, where: W }), /check p: no machine z/],
      [
        'an interface name that is no device name',
        (l) => {
          l.machines[0]!.interfaces[0]!.name = 'eth0; reboot';
        },
        /interface name "eth0; reboot"/,
      ],
    ];
    for (const [what, patch, re] of refused) assert.throws(() => checkLab(lab(patch)), re, what);
  });

  it('MACs are stable, locally administered, unicast and differ per interface', () => {
    const m = labMac('net', 'a', 'eth0');
    assert.equal(m, labMac('net', 'a', 'eth0'));
    assert.match(m, /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
    assert.equal(Number.parseInt(m.slice(0, 2), 16) & 0x03, 0x02);
    assert.notEqual(m, labMac('net', 'a', 'eth1'));
    assert.notEqual(m, labMac('net', 'b', 'eth0'));
  });

  it("UML's console announcement gives the pts; anything else gives none", () => {
    assert.equal(announcedPts("Kernel ...\nVirtual console 1 assigned device '/dev/pts/7'\n"), '/dev/pts/7');
    assert.equal(announcedPts("Virtual console 2 assigned device '/dev/pts/7'"), undefined);
    assert.equal(announcedPts("Virtual console 1 assigned device '/etc/shadow'"), undefined);
  });

  it('check lines: ok with the time, FAIL with the reason', () => {
    assert.equal(checkLine({ name: 'a pings b', ok: true, detail: '', seconds: 0.42 }), 'ok   a pings b (0.4 s)');
    assert.equal(checkLine({ name: 'tcp', ok: false, detail: 'b received 0 of 4194304 bytes', seconds: 1.23 }), 'FAIL tcp: b received 0 of 4194304 bytes (1.2 s)');
  });

  it("a lab's namespace is one `umlbuild cleanup` recognises as its run's own, and only that run's", () => {
    const name = labNetnsName('my lab/../x', '4242-abcdef');
    assert.equal(name, 'umlbuild-lab-my_lab_.._x-4242-abcdef');
    assert.ok(ownNetns(name, { pid: 4242 }));
    assert.ok(!ownNetns(name, { pid: 424 }));
    assert.ok(!ownNetns('umlbuild-lab-x-4243-abcdef', { pid: 4242 }));
    assert.ok(!ownNetns('umlbuild-lab-a/b-4242-abcdef', { pid: 4242 }));
  });
});
