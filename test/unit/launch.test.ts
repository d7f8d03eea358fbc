import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { chmod, mkdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { consoleArgs } from '../../src/launch/channels.js';
import { launchArgs } from '../../src/launch/line.js';
import { FAST_BOOT_ARGS, launchSchema, type LaunchInput } from '../../src/launch/schema.js';
import { renderLaunchScript } from '../../src/templates/launch-script.js';
import { networkArg, networkWarnings } from '../../src/launch/transports.js';
import { exec } from '../../src/host/exec.js';
import { tempDir } from '../helpers.js';
import { requireRootWith } from '../support/skip.js';

const parse = (input: LaunchInput) => launchSchema.parse(input);
const errors = (input: unknown) => {
  const r = launchSchema.safeParse(input);
  assert.equal(r.success, false, `accepted ${JSON.stringify(input)}`);
  return r.error!.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('\n');
};

describe('launch: network transports', () => {
  const cases: [Record<string, unknown>, string][] = [
    [{ device: 'vec0', transport: 'tap', ifname: 'tap0', depth: 128 }, 'vec0:transport=tap,ifname=tap0,depth=128,gro=1'],
    [{ device: 'vec1', transport: 'hybrid', ifname: 'tap1', gro: 0 }, 'vec1:transport=hybrid,ifname=tap1,gro=0'],
    [{ device: 'vec0', transport: 'raw', ifname: 'p-veth0', mac: '52:54:00:12:34:56', mtu: 1400 }, 'vec0:transport=raw,ifname=p-veth0,mac=52:54:00:12:34:56,mtu=1400,gro=1'],
    [{ device: 'vec0', transport: 'raw', ifname: 'p-veth0', bpffile: '/f.bpf', bpfflash: true }, 'vec0:transport=raw,ifname=p-veth0,bpffile=/f.bpf,bpfflash=1,gro=1'],
    [{ device: 'vec0', transport: 'gre', src: '192.0.2.1', dst: '192.0.2.2', rx_key: 1, tx_key: 2, sequence: 1 }, 'vec0:transport=gre,src=192.0.2.1,dst=192.0.2.2,rx_key=1,tx_key=2,sequence=1'],
    [
      { device: 'vec0', transport: 'l2tpv3', udp: 1, src: '192.0.2.1', dst: '192.0.2.2', srcport: 1706, dstport: 1707, rx_session: '0xffffffff', tx_session: '0xffff', cookie64: 1 },
      'vec0:transport=l2tpv3,udp=1,src=192.0.2.1,dst=192.0.2.2,srcport=1706,dstport=1707,rx_session=0xffffffff,tx_session=0xffff,cookie64=1',
    ],
    [{ device: 'vec2', transport: 'bess', src: '/run/a.sock', dst: '/run/b.sock', vec: 0 }, 'vec2:transport=bess,src=/run/a.sock,dst=/run/b.sock,vec=0'],
    [{ device: 'vec0', transport: 'fd', fd: 3, headroom: 64 }, 'vec0:transport=fd,fd=3,headroom=64'],
    [{ device: 'eth0', transport: 'tuntap', ifname: 'tap0' }, 'eth0=tuntap,tap0'],
    [{ device: 'eth1', transport: 'daemon', args: ['/tmp/uml.ctl'] }, 'eth1=daemon,/tmp/uml.ctl'],
  ];
  for (const [input, expected] of cases) {
    it(`${input.transport}: ${expected}`, () => {
      const cfg = parse({ networks: [input] });
      assert.equal(networkArg(cfg.networks[0]!), expected);
    });
  }

  it('warns about legacy transports and bpfflash', () => {
    const cfg = parse({
      networks: [
        { device: 'eth0', transport: 'pcap', args: ['eth0'] },
        { device: 'vec0', transport: 'raw', ifname: 'v', bpfflash: 1 },
      ],
    });
    const w = cfg.networks.flatMap(networkWarnings);
    assert.match(w[0]!, /legacy pcap transport is deprecated/);
    assert.match(w[1]!, /bpfflash=1 lets the guest load BPF code into the host kernel/);
  });

  it('rejects bad options with clear messages', () => {
    assert.match(errors({ networks: [{ device: 'vec0', transport: 'gre', dst: 'h', rx_key: 1 }] }), /networks\.0\.tx_key: GRE rx_key and tx_key go together/);
    assert.match(errors({ networks: [{ device: 'vec0', transport: 'l2tpv3', dst: 'h' }] }), /networks\.0\.rx_session: .*\n?.*networks\.0\.tx_session/s);
    assert.match(errors({ networks: [{ device: 'vec0', transport: 'tap', ifname: 'tap0', colour: 'red' }] }), /Unrecognized key: "colour"/);
    assert.match(errors({ networks: [{ device: 'vec0', transport: 'teleport' }] }), /networks\.0\.transport: transport must be one of tap, hybrid, raw, gre, l2tpv3, bess, fd, tuntap/);
    assert.match(errors({ networks: [{ device: 'vec0', transport: 'tap' }] }), /networks\.0\.ifname/);
    assert.match(errors({ networks: [{ device: 'eth0', transport: 'tap', ifname: 'tap0' }] }), /networks\.0\.device: eth0 with the vector transport tap must be named vecN/);
    assert.match(errors({ networks: [{ device: 'vec0', transport: 'tuntap', ifname: 'tap0' }] }), /legacy tuntap transport needs an ethN device/);
    assert.match(errors({ networks: [{ device: 'vec0', transport: 'tap', ifname: 'tap0', mac: 'zz' }] }), /not a MAC address/);
    assert.match(errors({ networks: [{ device: 'vec0', transport: 'tap', ifname: 'tap0', depth: 'deep' }] }), /must be an integer/);
  });
});

describe('launch: consoles and the command line', () => {
  it('accepts every channel type and orders con, conN, ssl, sslN', () => {
    const consoles = { con1: 'fd:0,fd:1', ssl: 'null', con: 'null', con0: 'null,fd:2', con2: 'port:4321', con3: 'pty', con4: 'pts', con5: 'tty:/dev/tty8', con6: 'xterm', ssl1: '/dev/tty9' };
    const cfg = parse({ consoles });
    assert.deepEqual(consoleArgs(cfg.consoles), ['con=null', 'ssl=null', 'con0=null,fd:2', 'con1=fd:0,fd:1', 'con2=port:4321', 'con3=pty', 'con4=pts', 'con5=tty:/dev/tty8', 'con6=xterm', 'ssl1=/dev/tty9']);
  });

  it('rejects bad channels and console names', () => {
    assert.match(errors({ consoles: { con1: 'fd:x' } }), /con1: not a channel/);
    assert.match(errors({ consoles: { con1: 'null,null,null' } }), /not a channel/);
    assert.match(errors({ consoles: { tty1: 'null' } }), /use con, conN, ssl or sslN/);
  });

  it('builds the HowTo command line with disks, COW, flags and tuning', () => {
    const cfg = parse({
      mem: '2048M',
      disk_flags: ['d'],
      disks: [
        { file: '/d/data.img', flags: ['s', 't'] },
        { file: 'base.img', cow: 'v.cow' },
      ],
      networks: [{ device: 'vec0', transport: 'tap', ifname: 'tap0' }],
      hostfs: '/srv/share',
      args: ['quiet'],
    });
    assert.deepEqual(launchArgs(cfg, { image: '/i/root.img', cow: '/t/root.cow', umid: 'TEST', umlDir: '/t' }), [
      'mem=2048M',
      'umid=TEST',
      'uml_dir=/t',
      'ubd0d=/t/root.cow,/i/root.img',
      'ubd1st=/d/data.img',
      'ubd2=v.cow,base.img',
      'root=/dev/ubda',
      'con=null',
      'con0=null,fd:2',
      'con1=fd:0,fd:1',
      'vec0:transport=tap,ifname=tap0,gro=1',
      'hostfs=/srv/share',
      ...FAST_BOOT_ARGS,
      'quiet',
    ]);
  });

  it("adds the fast-boot kernel arguments by default, before the recipe's own, and fast_boot: false leaves them off", () => {
    assert.deepEqual(FAST_BOOT_ARGS, ['initcall_blacklist=raid6_select_algo', 'pty.legacy_count=0', 'lpj=31756288']);
    const t = { image: '/i/root.img', umid: 'T' };
    assert.deepEqual(launchArgs(parse({ args: ['quiet'] }), t).slice(-4), [...FAST_BOOT_ARGS, 'quiet']);
    const off = launchArgs(parse({ args: ['quiet'], fast_boot: false }), t);
    assert.equal(off.at(-1), 'quiet');
    for (const a of FAST_BOOT_ARGS) assert.ok(!off.includes(a), `${a} in ${off.join(' ')}`);
    assert.match(errors({ fast_boot: 'yes' }), /^fast_boot: /m);
    // rootflags= is for a disk root; a hostfs root would take it as the host directory.
    const debian = parse({ args: ['rw', 'rootflags=errors=remount-ro'] });
    assert.deepEqual(launchArgs(debian, t).slice(-2), ['rw', 'rootflags=errors=remount-ro']);
    assert.ok(!launchArgs(debian, { ...t, hostfsRoot: '/srv/tree' }).some((a) => a.startsWith('rootflags=')));
  });
});

describe('launch script', function () {
  this.timeout(10000);
  const fakeLinux = '#!/bin/sh\nfor a in "$@"; do printf "%s\\n" "$a"; done\n';

  it('is valid sh, quotes paths with spaces and honours overrides', async () => {
    const dir = await tempDir('umlbuild launch ');
    try {
      const cfg = parse({ mem: '512M', networks: [{ device: 'vec0', transport: 'tap', ifname: 'lo' }], disks: [{ file: "/data dir/it's.img" }] });
      const image = join(dir.path, 'my image.img');
      await dir.write('my image.img', 'x');
      const script = await dir.write('my image.sh', await renderLaunchScript({ name: 'demo', image, umid: 'demo', launch: cfg }));
      await chmod(script, 0o755);
      const linux = await dir.write('fake linux', fakeLinux);
      await chmod(linux, 0o755);
      assert.equal((await exec('sh', ['-n', script])).exitCode, 0);
      const env = { UML_LINUX: linux, UML_ALLOW_ROOT: '1' };
      const r = await exec(script, ['single'], { env });
      assert.deepEqual(r.stdout.split('\n'), [
        'mem=512M',
        'umid=demo',
        `ubd0=${image}`,
        "ubd1=/data dir/it's.img",
        'root=/dev/ubda',
        'con=null',
        'con0=null,fd:2',
        'con1=fd:0,fd:1',
        'vec0:transport=tap,ifname=lo,gro=1',
        ...FAST_BOOT_ARGS,
        'single',
      ]);
      const o = await exec(script, [], { env: { ...env, UML_NET: 'none', UML_MEM: '1G', UML_UBD0: 'a.cow,b.img', UML_ARGS: 'x=1 y=2' } });
      assert.deepEqual(o.stdout.split('\n'), ['mem=1G', 'umid=demo', 'ubd0=a.cow,b.img', "ubd1=/data dir/it's.img", 'root=/dev/ubda', 'con=null', 'con0=null,fd:2', 'con1=fd:0,fd:1', 'x=1', 'y=2']);
      // fast_boot: false: the default UML_ARGS no longer has them.
      await writeFile(script, await renderLaunchScript({ name: 'demo', image, umid: 'demo', launch: parse({ fast_boot: false, args: ['single'] }) }));
      const off = await exec(script, [], { env: { ...env, UML_NET: 'none' } });
      assert.equal(off.stdout.split('\n').at(-1), 'single');
      for (const a of FAST_BOOT_ARGS) assert.ok(!off.stdout.includes(a), off.stdout);
    } finally {
      await dir.remove();
    }
  });

  it('quotes every value: newlines, $(...), backticks and quotes pass bash -n and run nothing (stand-in victim)', async () => {
    const dir = await tempDir();
    try {
      const victim = join(dir.path, 'victim');
      const evil = [`x\ntouch ${victim}\n`, `$(touch ${victim})`, `\`touch ${victim}\``, `it's "q" \\ ; touch ${victim}`];
      const cfg = parse({ hostfs: '/srv', networks: [{ device: 'vec0', transport: 'tap', ifname: 'lo' }] });
      // Past the schema (which refuses newlines), straight into the script: the quoting alone must hold.
      const launch = { ...cfg, args: evil, tmpdir: evil[1]!, hostfs: evil.join(''), root: evil[3]!, disks: [{ file: evil.join(''), flags: [], read_only: false }] };
      const image = join(dir.path, 'e.img');
      await dir.write('e.img', 'x');
      const text = await renderLaunchScript({ name: evil[0]!, image, umid: evil.join(''), launch, cow: join(dir.path, `${evil[2]}.cow`) });
      const script = await dir.write('e.sh', text);
      assert.equal((await exec('bash', ['-n', script])).exitCode, 0);
      assert.equal((await exec('sh', ['-n', script])).exitCode, 0);
      const linux = await dir.write('linux', fakeLinux);
      await chmod(linux, 0o755);
      const r = await exec('sh', [script], { env: { UML_LINUX: linux, UML_ALLOW_ROOT: '1', UML_TMPDIR: '' }, reject: false });
      assert.equal(r.exitCode, 0, r.stderr);
      assert.equal(existsSync(victim), false, 'a value ran as a command');
      assert.ok(r.stdout.includes(`umid=${evil.join('')}`), r.stdout);
      assert.ok(r.stdout.includes(`root=${evil[3]}`), r.stdout);
      // UML_ARGS is split into words on purpose; each value still arrives as text.
      assert.ok(r.stdout.includes(`$(touch`), r.stdout);
    } finally {
      await dir.remove();
    }
  });

  it('refuses a newline in any launch string', () => {
    for (const bad of [{ args: ['a\nb'] }, { hostfs: '/srv\nx' }, { tmpdir: '/t\n' }, { root: '/dev/ubda\nx' }, { disks: [{ file: 'd\n.img' }] }]) {
      assert.match(errors(bad), /must be one line/);
    }
  });

  it('pins CPUs with taskset and sets TMPDIR for the memory file', async () => {
    const dir = await tempDir();
    try {
      const cfg = parse({ cpus: '0', tmpdir: '/dev/shm' });
      const script = await dir.write('t.sh', await renderLaunchScript({ name: 't', image: join(dir.path, 't.img'), umid: 't', launch: cfg }));
      await dir.write('t.img', 'x');
      const linux = await dir.write('linux', '#!/bin/sh\necho "TMPDIR=$TMPDIR"\ntaskset -p $$\n');
      await chmod(linux, 0o755);
      const r = await exec('sh', [script], { env: { UML_LINUX: linux, UML_ALLOW_ROOT: '1' } });
      assert.match(r.stdout, /^TMPDIR=\/dev\/shm$/m);
      assert.match(r.stdout, /current affinity mask: 1$/m);
    } finally {
      await dir.remove();
    }
  });

  it('says what to do when the tap device is missing', async () => {
    const dir = await tempDir();
    try {
      const cfg = parse({ networks: [{ device: 'vec0', transport: 'tap', ifname: 'umlnotap9' }], hostfs: '/srv' });
      const text = await renderLaunchScript({ name: 'demo', image: join(dir.path, 'demo.img'), umid: 'demo', launch: cfg });
      assert.match(text, /WARNING: hostfs=\/srv is NOT a security boundary/);
      const script = await dir.write('demo.sh', text);
      await dir.write('demo.img', 'x');
      const linux = await dir.write('linux', fakeLinux);
      await chmod(linux, 0o755);
      const missing = await exec('sh', [script], { env: { UML_LINUX: linux, UML_ALLOW_ROOT: '1' }, reject: false });
      assert.equal(missing.exitCode, 1);
      assert.match(missing.stderr, /vec0 needs the host interface umlnotap9: ip tuntap add dev umlnotap9 mode tap user \S+ && ip link set umlnotap9 up \(or: tunctl -u \S+ -t umlnotap9\)/);
    } finally {
      await dir.remove();
    }
  });

  it('UML_ALLOW_ROOT=1 runs UML as root, UML_USER as that user (needs root)', async function () {
    await requireRootWith(this, 'setpriv');
    const dir = await tempDir();
    try {
      const cfg = parse({ hostfs: '/srv' });
      const script = await dir.write('demo.sh', await renderLaunchScript({ name: 'demo', image: join(dir.path, 'demo.img'), umid: 'demo', launch: cfg }));
      await dir.write('demo.img', 'x');
      await chmod(dir.path, 0o755);
      const linux = await dir.write('linux', '#!/bin/sh\necho "uid=$(id -u)"\n');
      await chmod(linux, 0o755);
      const root = await exec('sh', [script], { env: { UML_LINUX: linux, UML_NET: 'none', UML_ALLOW_ROOT: '1' }, reject: false });
      assert.equal(root.stdout, 'uid=0', 'UML_ALLOW_ROOT=1 still runs UML as root');
      const asNobody = await exec('sh', [script], { env: { UML_LINUX: linux, UML_NET: 'none', UML_USER: 'nobody' }, reject: false });
      assert.equal(asNobody.exitCode, 0, asNobody.stderr);
      assert.equal(asNobody.stdout, `uid=${(await exec('id', ['-u', 'nobody'])).stdout}`);
      assert.match(asNobody.stderr, /warning: hostfs=\/srv does not confine the guest/);
    } finally {
      await dir.remove();
    }
  });

  it('started as root, runs UML as umlbuild-guest, handing over an image it cannot reach as /dev/fd/N (stand-in image under a 0700 directory)', async function () {
    await requireRootWith(this, 'setpriv');
    const dir = await tempDir();
    try {
      await chmod(dir.path, 0o755);
      const linux = await dir.write(
        'linux',
        '#!/bin/sh\necho "uid=$(id -u) groups=$(id -G)"\nfor a in "$@"; do printf "%s\\n" "$a"; done\n[ -w /dev/fd/3 ] && echo fd3=rw\n[ -r /dev/fd/3 ] && echo fd3=r\ncase "$*" in *uml_dir=*) d=${*##*uml_dir=}; d=${d%% *}; [ -w "$d" ] && echo "uml_dir writable";; esac\n',
      );
      await chmod(linux, 0o755);
      const priv = join(dir.path, 'private');
      await mkdir(priv, { mode: 0o700 });
      const image = join(priv, 'demo.img');
      await writeFile(image, 'x', { mode: 0o644 });
      const script = join(priv, 'demo.sh');
      await writeFile(script, await renderLaunchScript({ name: 'demo', image, umid: 'demo', launch: parse({}) }), { mode: 0o755 });
      assert.equal((await exec('bash', ['-n', script])).exitCode, 0);
      const guest = (await exec('id', ['-u', 'umlbuild-guest'], { reject: false })).stdout;
      const r = await exec(script, [], { env: { UML_LINUX: linux, UML_NET: 'none' }, reject: false });
      assert.equal(r.exitCode, 0, r.stderr);
      const uid = (await exec('id', ['-u', 'umlbuild-guest'])).stdout;
      if (guest) assert.equal(guest, uid);
      const lines = r.stdout.split('\n');
      assert.equal(lines[0], `uid=${uid} groups=${(await exec('id', ['-g', 'umlbuild-guest'])).stdout}`, 'the guest user, no supplementary groups');
      assert.ok(lines.includes('ubd0=/dev/fd/3'), r.stdout);
      assert.ok(lines.includes('fd3=rw') && lines.includes('uml_dir writable'), r.stdout);
      const st = await stat(image);
      assert.equal(st.uid, Number(uid), 'the image UML writes was handed to the guest user');
      assert.equal(st.mode & 0o777, 0o644, 'its mode was not widened');
      assert.equal((await stat(priv)).mode & 0o777, 0o700, 'nor its directory');
      assert.match(r.stderr, /demo\.img now belongs to umlbuild-guest/);
      const umlDir = /^uml_dir=(.*)$/m.exec(r.stdout)![1]!;
      assert.equal(umlDir, '/run/umlbuild-uml/umlbuild-guest');
      const ud = await stat(umlDir);
      assert.equal(ud.uid, Number(uid), 'a uml_dir of its own');
      assert.equal(ud.mode & 0o777, 0o700);
      assert.match(r.stderr, /UML runs as umlbuild-guest; its mconsole: uml_mconsole \/run\/umlbuild-uml\/umlbuild-guest\/demo\/mconsole/);
      // On a COW layer the base is only read (and stays root's), the COW is created by the guest.
      await exec('chown', ['0:0', image]);
      const cow = join(dir.path, 'scratch dir');
      await mkdir(cow);
      await chmod(cow, 0o1777);
      const c = await exec(script, [], { env: { UML_LINUX: linux, UML_NET: 'none', UML_UBD0: `${cow}/s.cow,${image}` }, reject: false });
      assert.equal(c.exitCode, 0, c.stderr);
      assert.ok(c.stdout.split('\n').includes(`ubd0=${cow}/s.cow,/dev/fd/3`), c.stdout);
      assert.ok(c.stdout.includes('fd3=r'), c.stdout);
      assert.equal((await stat(image)).uid, 0, 'the base was not handed over');
      const refused = await exec(script, [], { env: { UML_LINUX: linux, UML_NET: 'none', UML_UBD0: `${priv}/s.cow,${image}` }, reject: false });
      assert.equal(refused.exitCode, 1);
      assert.match(refused.stderr, /umlbuild-guest, the user UML runs as, cannot create .*s\.cow: put the COW file in a directory it may write/);
    } finally {
      await dir.remove();
    }
  });
});
