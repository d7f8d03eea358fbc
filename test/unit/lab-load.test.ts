import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { parse } from 'yaml';
import { RecipeError } from '../../src/errors.js';
import { loadLab } from '../../src/lab/load.js';
import { labJsonSchema } from '../../src/lab/schema.js';
import { cidrProblem, findCycle, guestPathProblem, inNetwork, macProblem, routeProblem } from '../../src/lab/validate.js';
import { PROJECT, rejection, tempDir, type TempDir } from '../helpers.js';

/** The error's message with the temporary directory written DIR. */
async function problems(dir: TempDir, path: string): Promise<string[]> {
  const err = await rejection<RecipeError>(loadLab(path));
  assert.ok(err instanceof RecipeError, String(err));
  assert.equal(err.exitCode, 2);
  assert.doesNotMatch(err.message, /\n\s+at /, 'no stack trace');
  return err.message.replaceAll(dir.path, 'DIR').split('\n');
}

describe('lab files (lab/load.ts)', () => {
  let dir: TempDir;
  beforeEach(async () => {
    dir = await tempDir('umlbuild-lab-');
  });
  afterEach(() => dir.remove());

  it('an image or recipe for every machine (--image, --recipe) is refused for a lab file, naming it (it is for Netkit labs)', async () => {
    for (const path of [join(PROJECT, 'labs/routed'), join(PROJECT, 'labs/routed/lab.yml')]) {
      const e = await rejection(loadLab(path, { image: '/nonexistent.img' }));
      assert.ok(e instanceof RecipeError, String(e));
      assert.match(e.message, /labs\/routed\/lab\.yml.*is for Netkit labs/s);
    }
  });

  it('loads labs/routed: machines on the busybox recipe, segments, routes, files and checks with default names', async () => {
    const lab = await loadLab(join(PROJECT, 'labs/routed'));
    assert.equal(lab.name, 'routed');
    assert.equal(lab.format, 'umlbuild');
    assert.equal(lab.file, join(PROJECT, 'labs/routed/lab.yml'));
    assert.deepEqual(
      lab.segments.map((s) => s.name),
      ['lan1', 'lan2'],
    );
    assert.deepEqual(
      lab.machines.map((m) => [m.name, m.interfaces.map((i) => `${i.name}@${i.segment}=${i.address}`).join(' '), m.routes.join(';'), m.memory]),
      [
        ['a', 'eth0@lan1=10.0.1.2/24', 'default via 10.0.1.1', '64M'],
        ['r', 'eth0@lan1=10.0.1.1/24 eth1@lan2=10.0.2.1/24', '', '64M'],
        ['b', 'eth0@lan2=10.0.2.2/24', 'default via 10.0.2.1', '64M'],
      ],
    );
    for (const m of lab.machines) assert.deepEqual(m.source, { kind: 'recipe', recipe: join(PROJECT, 'recipes/busybox.yml'), set: { network: 'none' } });
    assert.deepEqual(lab.machines[1]!.startup, ['sysctl -w net.ipv4.ip_forward=1']);
    assert.deepEqual(lab.machines[2]!.files, [{ guest: '/etc/motd', host: join(PROJECT, 'labs/routed/files/motd') }]);
    assert.deepEqual(
      lab.checks.map((c) => c.name),
      ['a: ping 10.0.1.1', 'a: ping b (10.0.2.2)', 'a: tcp 4 MiB to b (10.0.2.2:5001)', 'b: run ip route', 'b: run cat /etc/motd', 'r: run sysctl -n net.ipv4.ip_forward'],
    );
    assert.deepEqual(lab.checks[2], { kind: 'tcp', name: 'a: tcp 4 MiB to b (10.0.2.2:5001)', machine: 'a', to: 'b', address: '10.0.2.2', port: 5001, mbytes: 4, where: `${lab.file}:33:5 tests[2]` });
    assert.equal(lab.machines[0]!.where, `${lab.file}:15:5 machines.a`);
  });

  it('every lab under labs/ loads (the umlbuild and Netkit formats both shipped)', async () => {
    const labs = readdirSync(join(PROJECT, 'labs'), { withFileTypes: true }).filter((e) => e.isDirectory());
    const formats = [];
    for (const e of labs) formats.push((await loadLab(join(PROJECT, 'labs', e.name))).format);
    assert.deepEqual([...new Set(formats)].sort(), ['netkit', 'umlbuild']);
  });

  it('the same lab by its file, by a directory holding lab.yml; a directory with neither or both lab files is refused', async () => {
    assert.equal((await loadLab(join(PROJECT, 'labs/routed/lab.yml'))).name, 'routed');
    await mkdir(join(dir.path, 'empty'));
    assert.deepEqual(await problems(dir, join(dir.path, 'empty')), ['DIR/empty: not a lab: no lab.yml (an umlbuild lab) or lab.conf (a Netkit lab) in it']);
    await dir.write('both/lab.yml', 'machines: {}\n');
    await dir.write('both/lab.conf', 'pc1[0]=A\n');
    assert.deepEqual(await problems(dir, join(dir.path, 'both')), ['DIR/both: holds both lab.conf (a Netkit lab) and lab.yml: name the one to load']);
    assert.deepEqual(await problems(dir, join(dir.path, 'none.yml')), ['DIR/none.yml: no such lab file or directory']);
  });

  it('a lab file without name: is named after its file (lab.yml: its directory); an image machine; mac, tree, after, set, a named check', async () => {
    await dir.write('img/disk.img', 'x');
    await dir.write('img/root/etc/issue', 'hello\n');
    await dir.write('img/my.yml', 'name: mine\nsteps: []\n');
    const file = await dir.write(
      'img/lab.yml',
      [
        'machines:',
        '  m1: { image: disk.img, memory: 96, interfaces: { eth1: { segment: s, address: "fd00::1/64", mac: "02:AA:00:00:00:01" }, eth0: { segment: s } }, tree: root }',
        '  m2: { recipe: my.yml, set: { n: 1, b: true }, after: [m1, m1], startup: "echo hi", routes: ["fd01::/64   via fd00::1"], interfaces: { eth0: { segment: s, address: "fd00::2/64" } } }',
        'segments: { s: { uplink: br0 } }',
        'tests:',
        '  - { name: "my check", on: m1, run: "false", status: 1 }',
        '  - { on: m2, ping: m1, count: 1 }',
        '  - { on: m2, ping: m1 }',
        '',
      ].join('\n'),
    );
    const lab = await loadLab(join(dir.path, 'img'));
    assert.equal(lab.name, 'img');
    assert.equal(lab.file, file);
    assert.deepEqual(lab.segments, [{ name: 's', uplink: 'br0', where: `${file}:4:16 segments.s` }]);
    const [m1, m2] = lab.machines;
    assert.deepEqual(m1!.source, { kind: 'image', image: join(dir.path, 'img/disk.img') });
    assert.equal(m1!.memory, '96M');
    assert.deepEqual(m1!.interfaces, [
      { name: 'eth0', segment: 's' },
      { name: 'eth1', segment: 's', address: 'fd00::1/64', mac: '02:aa:00:00:00:01' },
    ]);
    assert.equal(m1!.tree, join(dir.path, 'img/root'));
    assert.deepEqual(m2!.source, { kind: 'recipe', recipe: join(dir.path, 'img/my.yml'), set: { n: '1', b: 'true' } });
    assert.deepEqual(m2!.after, ['m1']);
    assert.deepEqual(m2!.startup, ['echo hi']);
    assert.deepEqual(m2!.routes, ['fd01::/64 via fd00::1']);
    assert.deepEqual(
      lab.checks.map((c) => c.name),
      ['my check', 'm2: ping m1 (fd00::1)', 'm2: ping m1 (fd00::1) (2)'],
    );
    assert.deepEqual(lab.checks[0], { kind: 'run', name: 'my check', machine: 'm1', command: 'false', status: 1, where: `${file}:6:5 tests[0]` });
    assert.equal(lab.checks[1]!.kind === 'ping' && lab.checks[1]!.count, 1);
  });

  it('reports every problem at once, in file order, with FILE:LINE:COL key', async () => {
    await dir.write('lab/files/motd', 'hi\n');
    await writeFile(join(dir.path, 'victim'), 'the victim\n');
    await symlink(join(dir.path, 'victim'), join(dir.path, 'lab/files/link'));
    const file = await dir.write(
      'lab/bad.yml',
      [
        'name: bad', // 1
        'defaults: { recipe: busybox, image: x.img }', // 2
        'segments: [lan1, lan2, lan1]', // 3
        'machines:', // 4
        '  a:', // 5
        '    interfaces:', // 6
        '      eth0: { segment: lan3, address: 10.0.1.2/33 }', // 7
        '      eth1: { segment: lan1, address: 10.0.1.300/24, mac: 01:00:00:00:00:01 }', // 8
        '      eth2: { segment: lan2, address: 10.0.2.5, mac: 02:00:00:00:00:01 }', // 9
        '      eth3: { segment: lan2, address: 10.0.2.2/24 }', // 10
        '    routes: [default via 10.0.9.1, "10.0.3.0/24 by 10.0.1.1", 10.0.4.0/24 via fe80::1, 10.0.5.0/40 via 10.0.2.1]', // 11
        '    after: [b, zz, a]', // 12
        '  b:', // 13
        '    image: nope.img', // 14
        '    set: { x: 1 }', // 15
        '    interfaces:', // 16
        '      eth0: { segment: lan2, address: 10.0.2.2/24 }', // 17
        '    files:', // 18
        '      /etc/motd: files/motd', // 19
        '      etc/x: files/motd', // 20
        '      /etc/../shadow: files/motd', // 21
        '      /etc/y: ../victim', // 22
        '      /etc/z: files/link', // 23
        '      /etc/w: { source: files/none, mode: "0644" }', // 24
        '    tree: files/motd', // 25
        '    after: [a]', // 26
        '  c: {}', // 27
        '  d: { image: d.img, recipe: busybox }', // 28
        '  e: { recipe: no-such-shipped-recipe }', // 29
        'tests:', // 30
        '  - { on: x, ping: 10.0.2.2 }', // 31
        '  - { on: a, ping: 10.0.2.2, run: ls }', // 32
        '  - { on: a, run: ls, count: 3, expect: "(" }', // 33
        '  - { on: a, tcp: { to: a } }', // 34
        '  - { on: a, ping: bb }', // 35
        '  - { name: x, on: a, run: ls }', // 36
        '  - { name: x, on: b, run: ls }', // 37
        '  - { on: a, status: 1 }', // 38
        '  - { on: c, tcp: { to: zz, address: ten } }', // 39
        '  - { on: a, tcp: { to: c } }', // 40
        '  - { on: b, ping: c }', // 41
        '',
      ].join('\n'),
    );
    assert.deepEqual(await problems(dir, file), [
      'DIR/lab/bad.yml:2:21: defaults.recipe: give image or recipe, not both',
      'DIR/lab/bad.yml:3:24: segments[2]: segment lan1 is listed twice',
      'DIR/lab/bad.yml:7:24: machines.a.interfaces.eth0.segment: no segment "lan3" in the lab; did you mean "lan1"? (segments: lan1, lan2)',
      'DIR/lab/bad.yml:7:39: machines.a.interfaces.eth0.address: prefix /33 is longer than an IPv4 address',
      'DIR/lab/bad.yml:8:39: machines.a.interfaces.eth1.address: "10.0.1.300" is not an IP address',
      "DIR/lab/bad.yml:8:59: machines.a.interfaces.eth1.mac: 01:00:00:00:00:01 is a multicast address (the first octet's lowest bit is set)",
      'DIR/lab/bad.yml:9:39: machines.a.interfaces.eth2.address: "10.0.2.5" is not ADDRESS/PREFIX (10.0.1.2/24)',
      "DIR/lab/bad.yml:11:14: machines.a.routes[0]: gateway 10.0.9.1 is on none of this machine's networks (10.0.2.2/24)",
      'DIR/lab/bad.yml:11:36: machines.a.routes[1]: "10.0.3.0/24 by 10.0.1.1" is not DEST via GATEWAY (default via 10.0.1.1, 10.0.3.0/24 via 10.0.1.1)',
      'DIR/lab/bad.yml:11:63: machines.a.routes[2]: destination 10.0.4.0/24 and gateway fe80::1 are not the same IP version',
      'DIR/lab/bad.yml:11:88: machines.a.routes[3]: destination: prefix /40 is longer than an IPv4 address, or "default"',
      'DIR/lab/bad.yml:12:12: machines.a.after: machines wait for each other in a circle: a -> b -> a',
      'DIR/lab/bad.yml:12:16: machines.a.after[1]: no machine "zz" in the lab; did you mean "a"?',
      'DIR/lab/bad.yml:12:20: machines.a.after[2]: machine a cannot wait for itself',
      'DIR/lab/bad.yml:14:12: machines.b.image: no such image: DIR/lab/nope.img',
      'DIR/lab/bad.yml:15:10: machines.b.set: set gives a recipe its variables; this machine boots an image',
      "DIR/lab/bad.yml:17:39: machines.b.interfaces.eth0.address: 10.0.2.2 is also a.eth3's address",
      'DIR/lab/bad.yml:20:7: machines.b.files.etc/x: "etc/x" is not an absolute guest path (/etc/motd)',
      'DIR/lab/bad.yml:21:7: machines.b.files./etc/../shadow: "/etc/../shadow" is not a plain path to a file (no "..", ".", "//" or trailing "/")',
      "DIR/lab/bad.yml:22:15: machines.b.files./etc/y: ../victim is outside the lab's directory DIR/lab (a lab copies only its own files into machines)",
      "DIR/lab/bad.yml:23:15: machines.b.files./etc/z: DIR/lab/files/link is a symbolic link (or under one) that leads out of the lab's directory, to DIR/victim; refused",
      'DIR/lab/bad.yml:24:25: machines.b.files./etc/w.source: no such file: DIR/lab/files/none',
      'DIR/lab/bad.yml:25:11: machines.b.tree: DIR/lab/files/motd is not a directory',
      'DIR/lab/bad.yml:28:30: machines.d.recipe: give image or recipe, not both',
      'DIR/lab/bad.yml:29:16: machines.e.recipe: no-such-shipped-recipe: no such file, and umlbuild ships no recipe of that name (shipped: bookworm, bookworm-dirfirst, bookworm-howto, bookworm-rootless, bullseye, buster, busybox, busybox-kernel, from-dir, from-tarball, trixie; `umlbuild recipes` describes them)',
      'DIR/lab/bad.yml:31:11: tests[0].on: no machine "x" in the lab; did you mean "a"? (machines: a, b, c, d, e)',
      'DIR/lab/bad.yml:32:5: tests[1]: a check does one thing: ping and run given',
      'DIR/lab/bad.yml:33:30: tests[2].count: count goes with ping',
      'DIR/lab/bad.yml:33:41: tests[2].expect: not a regular expression: Invalid regular expression: /(/: Unterminated group',
      'DIR/lab/bad.yml:34:25: tests[3].tcp.to: a tcp check sends from one machine to another, not to itself (a)',
      'DIR/lab/bad.yml:35:20: tests[4].ping: "bb" is neither an IP address nor a machine; did you mean "b"?',
      'DIR/lab/bad.yml:37:13: tests[6].name: a second check named "x" (the first is tests[5])',
      'DIR/lab/bad.yml:38:5: tests[7]: a check needs one of ping, tcp or run',
      'DIR/lab/bad.yml:38:22: tests[7].status: status goes with run',
      'DIR/lab/bad.yml:39:25: tests[8].tcp.to: no machine "zz" in the lab; did you mean "a"? (machines: a, b, c, d, e)',
      'DIR/lab/bad.yml:39:38: tests[8].tcp.address: "ten" is not an IP address',
      'DIR/lab/bad.yml:40:19: tests[9].tcp: machine c has no address in the lab: give address:',
      'DIR/lab/bad.yml:41:20: tests[10].ping: machine c has no address to ping',
    ]);
  });

  it('the schema first: unknown keys (with the key meant), wrong types, names that are not names', async () => {
    const file = await dir.write(
      'lab.yml',
      [
        'name: ../x',
        'colour: blue',
        'machines:',
        '  ../evil: { interfaces: { eth0: { segment: a } } }',
        '  ok: { interfaces: { vec0: { segment: a } }, memroy: 3 }',
        '  m3: { startup: 3, memory: lots }',
        'tests:',
        '  - { on: ok, png: 1.2.3.4 }',
        '',
      ].join('\n'),
    );
    const rule = 'letters, digits, "-" and "_", starting with a letter or digit, at most 32 characters';
    assert.deepEqual(await problems(dir, file), [
      `DIR/lab.yml:1:7: name: not a valid name (${rule})`,
      'DIR/lab.yml:2:1: colour: unknown key "colour"',
      `DIR/lab.yml:4:3: machines.../evil: "../evil": not a valid name (${rule})`,
      'DIR/lab.yml:5:23: machines.ok.interfaces.vec0: "vec0": not an interface name (eth0 ... eth63)',
      'DIR/lab.yml:5:47: machines.ok.memroy: unknown key "memroy"; did you mean "memory"?',
      'DIR/lab.yml:6:18: machines.m3.startup: not one of the accepted forms',
      'DIR/lab.yml:6:29: machines.m3.memory: use a number with K, M or G (128M)',
      'DIR/lab.yml:8:15: tests[0].png: unknown key "png"; did you mean "ping"?',
    ]);
    await dir.write('no map.yml', '- a\n');
    assert.deepEqual(await problems(dir, join(dir.path, 'no map.yml')), ['DIR/no map.yml:1:1: a lab file (name, segments, machines, tests) must be a YAML mapping']);
    await dir.write('dup.yml', 'machines:\n  a: { interfaces: { eth0: { segment: s }, eth0: { segment: s } } }\n');
    assert.match((await problems(dir, join(dir.path, 'dup.yml'))).join('\n'), /^DIR\/dup\.yml:2:\d+: YAML: Map keys must be unique/);
    await dir.write('bad name/lab.yml', 'machines: {}\n');
    assert.deepEqual(await problems(dir, join(dir.path, 'bad name')), [
      `DIR/bad name/lab.yml:1:1: the lab's name defaults to "bad name", which is not a valid name (${rule}): give name:`,
      'DIR/bad name/lab.yml:1:11: machines: a lab needs at least one machine',
    ]);
  });

  it('hostile: a machine name that walks out of the lab is refused, and nothing is read through a link out of it', async () => {
    const victim = join(dir.path, 'victim');
    await mkdir(join(victim, 'etc'), { recursive: true });
    await writeFile(join(victim, 'etc/shadow'), 'root:SECRET-zq9:19000::::::\n');
    await dir.write('lab/files/ok', 'ok\n');
    await symlink(victim, join(dir.path, 'lab/root'));
    await symlink(join(victim, 'etc/shadow'), join(dir.path, 'lab/files/shadow'));
    const file = await dir.write(
      'lab/lab.yml',
      ['segments: [s]', 'machines:', '  m: { recipe: busybox, tree: root, files: { /etc/a: files/shadow, /etc/b: /etc/passwd, /etc/c: files/../../victim/etc/shadow } }', '  n: { recipe: busybox, tree: ../victim }', ''].join('\n'),
    );
    const got = await problems(dir, file);
    assert.deepEqual(got, [
      "DIR/lab/lab.yml:3:31: machines.m.tree: DIR/lab/root is a symbolic link (or under one) that leads out of the lab's directory, to DIR/victim; refused",
      "DIR/lab/lab.yml:3:54: machines.m.files./etc/a: DIR/lab/files/shadow is a symbolic link (or under one) that leads out of the lab's directory, to DIR/victim/etc/shadow; refused",
      "DIR/lab/lab.yml:3:76: machines.m.files./etc/b: /etc/passwd is outside the lab's directory DIR/lab (a lab copies only its own files into machines)",
      "DIR/lab/lab.yml:3:97: machines.m.files./etc/c: files/../../victim/etc/shadow is outside the lab's directory DIR/lab (a lab copies only its own files into machines)",
      "DIR/lab/lab.yml:4:31: machines.n.tree: ../victim is outside the lab's directory DIR/lab (a lab copies only its own files into machines)",
    ]);
    assert.doesNotMatch(got.join('\n'), /SECRET/);
    await dir.write('lab/name.yml', 'segments: [s]\nmachines:\n  "../../victim": { image: ../victim/etc/shadow, interfaces: { eth0: { segment: s } } }\n');
    assert.deepEqual(await problems(dir, join(dir.path, 'lab/name.yml')), [
      'DIR/lab/name.yml:3:3: machines.../../victim: "../../victim": not a valid name (letters, digits, "-" and "_", starting with a letter or digit, at most 32 characters)',
    ]);
    await dir.write('lab/nosource.yml', 'machines:\n  c: {}\n');
    assert.deepEqual(await problems(dir, join(dir.path, 'lab/nosource.yml')), ['DIR/lab/nosource.yml:2:3: machines.c: no image: give image: or recipe: (here or in defaults:)']);
    assert.equal(await readFile(join(victim, 'etc/shadow'), 'utf8'), 'root:SECRET-zq9:19000::::::\n', 'the victim is untouched');
  });
});

describe('JSON Schema of the lab file (labs/lab.schema.json)', () => {
  const file = join(PROJECT, 'labs/lab.schema.json');
  const schema = JSON.parse(readFileSync(file, 'utf8')) as object;
  const validate = new Ajv({ allErrors: true, strict: false }).compile(schema);

  it('labs/lab.schema.json is what labJsonSchema() makes now (regenerate: npm run man)', () => {
    assert.deepEqual(labJsonSchema(), schema);
  });

  it('accepts the shipped lab, which points to it, and rejects broken ones', async () => {
    const text = await readFile(join(PROJECT, 'labs/routed/lab.yml'), 'utf8');
    assert.match(text, /^# yaml-language-server: \$schema=\.\.\/lab\.schema\.json$/m);
    assert.ok(validate(parse(text)), JSON.stringify(validate.errors));
    const broken = [
      { machines: { a: { colour: 'blue' } } },
      { machines: { '../a': {} } },
      { machines: { a: { interfaces: { vec0: { segment: 's' } } } } },
      { machines: { a: { memory: 'lots' } } },
      { segments: ['a b'], machines: {} },
      { machines: {}, tests: [{ on: 'a', png: 'x' }] },
      {},
    ];
    for (const b of broken) assert.equal(validate(b), false, JSON.stringify(b));
  });
});

describe('lab address, route and order checks (lab/validate.ts)', () => {
  it('addresses with prefixes, routes through a gateway on one of the networks, MACs', () => {
    assert.equal(cidrProblem('10.0.1.2/24'), undefined);
    assert.equal(cidrProblem('fd00::1/64'), undefined);
    assert.equal(cidrProblem('10.0.1.2'), '"10.0.1.2" is not ADDRESS/PREFIX (10.0.1.2/24)');
    assert.equal(cidrProblem('fd00::1/129'), 'prefix /129 is longer than an IPv6 address');
    assert.ok(inNetwork('10.0.1.1', '10.0.1.2/24'));
    assert.ok(!inNetwork('10.0.2.1', '10.0.1.2/24'));
    assert.ok(inNetwork('10.0.3.4', '10.0.0.1/14'));
    assert.ok(inNetwork('fd00::ffff', 'fd00::1/64'));
    assert.ok(!inNetwork('fd00:0:0:1::1', 'fd00::1/64'));
    assert.ok(inNetwork('::ffff:10.0.1.1', '::ffff:10.0.1.9/120'));
    assert.ok(!inNetwork('10.0.1.1', 'fd00::1/0'), 'not across IP versions');
    assert.equal(routeProblem('default via 10.0.1.1', ['10.0.1.2/24']), undefined);
    assert.equal(routeProblem('10.9.0.0/16 via 10.0.1.1', []), undefined, 'no address to check the gateway against');
    assert.equal(routeProblem('default via 10.0.1.1 dev eth0', ['10.0.1.2/24'])?.startsWith('"default via 10.0.1.1 dev eth0" is not DEST via GATEWAY'), true);
    assert.equal(routeProblem('default via fd00::1', ['10.0.1.2/24', 'fd00::2/64']), undefined);
    assert.equal(macProblem('02:00:00:00:00:01'), undefined);
    assert.equal(macProblem('00:00:00:00:00:00'), 'the all-zero MAC address');
    assert.equal(macProblem('02:00:00:00:00'), '"02:00:00:00:00" is not a MAC address (02:00:00:00:00:01)');
  });

  it('guest paths and the order machines wait in', () => {
    assert.equal(guestPathProblem('/etc/motd'), undefined);
    for (const bad of ['/', '/etc/', '/etc//motd', '/etc/./motd', '/../etc/shadow', 'etc/motd', '/etc/mo\ntd']) assert.notEqual(guestPathProblem(bad), undefined, bad);
    assert.equal(
      findCycle(
        new Map([
          ['a', ['b']],
          ['b', ['c']],
          ['c', []],
        ]),
      ),
      undefined,
    );
    assert.deepEqual(
      findCycle(
        new Map([
          ['a', ['b']],
          ['b', ['c']],
          ['c', ['b']],
        ]),
      ),
      ['b', 'c', 'b'],
    );
  });
});
