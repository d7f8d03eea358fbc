import assert from 'node:assert/strict';
import { mkdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { RecipeError } from '../../src/errors.js';
import { loadLab } from '../../src/lab/load.js';
import { PROJECT, rejection, tempDir, type TempDir } from '../helpers.js';

async function problems(dir: TempDir, path: string, opts = {}): Promise<string[]> {
  const err = await rejection<RecipeError>(loadLab(path, opts));
  assert.ok(err instanceof RecipeError, String(err));
  assert.equal(err.exitCode, 2);
  assert.doesNotMatch(err.message, /\n\s+at /, 'no stack trace');
  return err.message.replaceAll(dir.path, 'DIR').split('\n');
}

describe('Netkit labs (lab/netkit.ts)', () => {
  let dir: TempDir;
  beforeEach(async () => {
    dir = await tempDir('umlbuild-netkit-');
  });
  afterEach(() => dir.remove());

  it('loads labs/netkit-two-lans: machines from lab.conf, startup scripts, the machine directory, lab.dep and umlbuild-tests.yml', async () => {
    const at = join(PROJECT, 'labs/netkit-two-lans');
    const lab = await loadLab(at);
    assert.equal(lab.format, 'netkit');
    assert.equal(lab.name, 'netkit-two-lans');
    assert.equal(lab.description, 'two LANs and a router, Netkit format');
    assert.equal(lab.file, join(at, 'lab.conf'));
    assert.deepEqual(lab.segments, [
      { name: 'A', where: `${at}/lab.conf:11` },
      { name: 'B', where: `${at}/lab.conf:14` },
    ]);
    const [pc1, pc2, router] = lab.machines;
    assert.deepEqual(
      lab.machines.map((m) => [m.name, m.memory, m.interfaces.map((i) => `${i.name}@${i.segment}`).join(' '), m.after.join(' '), m.tree]),
      [
        ['pc1', '64M', 'eth0@A', 'router', undefined],
        ['pc2', '64M', 'eth0@B', 'router', undefined],
        ['router', '64M', 'eth0@A eth1@B', '', join(at, 'router')],
      ],
    );
    assert.deepEqual(pc1!.files, [{ guest: '/etc/umlbuild-lab/startup', host: join(at, 'pc1.startup'), mode: 0o755 }]);
    assert.deepEqual(pc1!.startup, ['sh /etc/umlbuild-lab/startup']);
    assert.equal(pc2!.where, `${at}/lab.conf:14`);
    assert.deepEqual(router!.source, { kind: 'recipe', recipe: join(PROJECT, 'recipes/busybox.yml'), set: { network: 'none' } });
    assert.deepEqual(
      lab.checks.map((c) => c.name),
      ['pc1: ping 192.168.1.1', 'pc1: ping 192.168.2.2', 'pc2: tcp 1 MiB to pc1 (192.168.1.2:5001)', 'router: run cat /etc/motd', 'pc2: run ip route'],
    );
    assert.equal(lab.checks[0]!.where, `${at}/umlbuild-tests.yml:4:5 tests[0]`);
    // Its lab.conf itself names the lab too.
    assert.equal((await loadLab(join(at, 'lab.conf'))).machines.length, 3);
  });

  it('the image the caller gives, or umlbuild-tests.yml defaults:; Kathará sysctl and exec, MACs, machines=, shared.startup, LAB_NAME', async () => {
    await dir.write('disk.img', 'x');
    await dir.write(
      'lab/lab.conf',
      [
        'LAB_NAME=kathara',
        "LAB_EMAIL='a@b'",
        'machines="r1 r2 lonely"',
        'r1[0]=A/02:00:00:00:00:0A',
        'r1[sysctl]="net.ipv4.ip_forward=1"',
        'r1[exec]="echo up > /tmp/up"',
        '  r2[3] = "A"   # indented, spaced, commented',
        'r2[mem]=1G # a comment',
        '',
      ].join('\n'),
    );
    await dir.write('lab/shared.startup', 'echo shared\n');
    await dir.write('lab/r1.startup', 'echo r1\n');
    const lab = await loadLab(join(dir.path, 'lab'), { image: join(dir.path, 'disk.img') });
    assert.equal(lab.name, 'kathara');
    assert.equal(lab.description, undefined);
    const [r1, r2, lonely] = lab.machines;
    assert.deepEqual(r1!.source, { kind: 'image', image: join(dir.path, 'disk.img') });
    assert.deepEqual(r1!.interfaces, [{ name: 'eth0', segment: 'A', mac: '02:00:00:00:00:0a' }]);
    assert.deepEqual(r1!.startup, ['sysctl -w net.ipv4.ip_forward=1', 'sh /etc/umlbuild-lab/shared.startup', 'sh /etc/umlbuild-lab/startup', 'echo up > /tmp/up']);
    assert.deepEqual(
      r1!.files.map((f) => f.guest),
      ['/etc/umlbuild-lab/shared.startup', '/etc/umlbuild-lab/startup'],
    );
    assert.deepEqual(r2!.interfaces, [{ name: 'eth3', segment: 'A' }]);
    assert.equal(r2!.memory, '1G');
    assert.deepEqual(r2!.startup, ['sh /etc/umlbuild-lab/shared.startup']);
    assert.deepEqual([lonely!.name, lonely!.interfaces, lonely!.where], ['lonely', [], `${dir.path}/lab/lab.conf:3`]);

    await dir.write('lab/umlbuild-tests.yml', 'defaults: { recipe: busybox, set: { size: 128M } }\ntests:\n  - { on: r1, run: "true" }\n');
    const withDefaults = await loadLab(join(dir.path, 'lab'));
    assert.deepEqual(withDefaults.machines[0]!.source, { kind: 'recipe', recipe: join(PROJECT, 'recipes/busybox.yml'), set: { size: '128M' } });
    assert.deepEqual(
      withDefaults.checks.map((c) => c.name),
      ['r1: run true'],
    );
    await dir.write('lab/umlbuild-tests.yml', 'defaults: { memory: 48M, set: { size: 96M } }\n');
    const onlySet = await loadLab(join(dir.path, 'lab'), { set: { hostname: 'x' } });
    assert.deepEqual(onlySet.machines[0]!.source, { kind: 'recipe', recipe: join(PROJECT, 'recipes/busybox.yml'), set: { network: 'none', size: '96M', hostname: 'x' } });
    assert.deepEqual(
      onlySet.machines.map((m) => m.memory),
      ['48M', '1G', '48M'],
      'defaults: memory for the machines with no [mem]',
    );
    const given = await loadLab(join(dir.path, 'lab'), { recipe: 'busybox', set: { network: 'none' } });
    assert.deepEqual(given.machines[0]!.source, { kind: 'recipe', recipe: join(PROJECT, 'recipes/busybox.yml'), set: { network: 'none' } }, 'the caller wins');
  });

  it('reports unknown keys and options and every bad line with lab.conf:LINE:COL, not ignoring any', async () => {
    await dir.write(
      'lab/lab.conf',
      [
        'LAB_DESCRIPTION="bad"', // 1
        'LAB_AUTOR=me', // 2
        '../x[0]=A', // 3
        'pc1[0]="A', // 4
        'pc1[0]=A', // 5
        'pc1[0]=B', // 6
        'pc1[mem]=lots', // 7
        'pc1[image]="kathara/base"', // 8
        'pc1[con0]=xterm', // 9
        'pc2[1]=B/01:02:03:04:05:06', // 10
        '  garbage line', // 11
        'pc3[70]=C', // 12
        'pc3[0]=A/B/C', // 13
        'pc3[1]=lan one', // 14
        'pc3[sysctl]="x; rm -rf /"', // 15
        'LAB_DESCRIPTION=again', // 16
        "pc3[exec]=''", // 17
        'LAB_NAME="a b"', // 18
        '',
      ].join('\n'),
    );
    const rule = 'letters, digits, "-" and "_", starting with a letter or digit, at most 32 characters';
    assert.deepEqual(await problems(dir, join(dir.path, 'lab')), [
      'DIR/lab/lab.conf:2:1: LAB_AUTOR: unknown key; did you mean "LAB_AUTHOR"? (lab.conf holds LAB_DESCRIPTION, LAB_VERSION, LAB_AUTHOR, LAB_EMAIL, LAB_WEB, LAB_NAME, machines= and MACHINE[OPTION]= lines)',
      `DIR/lab/lab.conf:3:1: ../x[0]: "../x" is not a valid machine name (${rule})`,
      'DIR/lab/lab.conf:4:8: pc1[0]: no closing "',
      'DIR/lab/lab.conf:6:5: pc1[0]: eth0 of pc1 is already on A (line 5)',
      'DIR/lab/lab.conf:7:10: pc1[mem]: "lots" is not a memory size in MiB (128) or with a unit (128M)',
      'DIR/lab/lab.conf:8:5: pc1[image]: a Kathará container image is not a UML disk: umlbuild boots every machine from the image or recipe given to `umlbuild lab` (or defaults: in umlbuild-tests.yml); remove this line',
      'DIR/lab/lab.conf:9:5: pc1[con0]: unknown or unsupported option "con0" (umlbuild reads NUMBER, mem, sysctl and exec)',
      "DIR/lab/lab.conf:10:8: pc2[1]: 01:02:03:04:05:06 is a multicast address (the first octet's lowest bit is set)",
      'DIR/lab/lab.conf:11:3: not KEY=VALUE or MACHINE[OPTION]=VALUE',
      'DIR/lab/lab.conf:12:5: pc3[70]: interfaces are numbered 0 ... 63',
      'DIR/lab/lab.conf:13:8: pc3[0]: "A/B/C" is not DOMAIN or DOMAIN/MAC',
      `DIR/lab/lab.conf:14:8: pc3[1]: "lan one" is not a valid collision domain name (${rule})`,
      'DIR/lab/lab.conf:15:13: pc3[sysctl]: "x; rm -rf /" is not KEY=VALUE (net.ipv4.ip_forward=1)',
      'DIR/lab/lab.conf:16:1: LAB_DESCRIPTION: LAB_DESCRIPTION is given twice (first on line 1)',
      'DIR/lab/lab.conf:17:11: pc3[exec]: an empty command',
      `DIR/lab/lab.conf:18:1: LAB_NAME: "a b" is not a valid name (${rule})`,
    ]);
  });

  it('lab.dep: unknown machines and a cycle, named; machines= that leaves one out; startup and shutdown scripts of no machine; shared/', async () => {
    await dir.write('lab/lab.conf', 'machines="pc1 pc2 pc3"\npc1[0]=A\npc2[0]=A\npc3[0]=A\npc4[0]=A\n');
    await dir.write('lab/lab.dep', '# order\npc1: pc2\npc2: pc3 pc2\n\npc3: pc1 pc7\npc9: pc1\nnonsense\n');
    await dir.write('lab/ghost.startup', 'ls\n');
    await dir.write('lab/pc1.shutdown', 'ls\n');
    await dir.write('lab/shared/etc/x', 'x\n');
    assert.deepEqual(await problems(dir, join(dir.path, 'lab')), [
      'DIR/lab/ghost.startup: a startup script of no machine (machines: pc1, pc2, pc3)',
      'DIR/lab/lab.conf:5:1: pc4: machine pc4 is not in machines= (line 1)',
      'DIR/lab/lab.dep:2:1: pc1: machines wait for each other in a circle: pc1 -> pc2 -> pc3 -> pc1',
      'DIR/lab/lab.dep:3:10: pc2: machine pc2 cannot wait for itself',
      'DIR/lab/lab.dep:5:10: pc3: no machine "pc7" in lab.conf; did you mean "pc1"?',
      'DIR/lab/lab.dep:6:1: pc9: no machine "pc9" in lab.conf; did you mean "pc1"?',
      'DIR/lab/lab.dep:7:1: not MACHINE: MACHINE... (pc3: pc1 pc2)',
      'DIR/lab/pc1.shutdown: shutdown scripts are not supported (umlbuild stops machines through mconsole without running them); remove it',
      "DIR/lab/shared: Netkit's shared/ directory (a tree copied onto every machine) is not supported; give each machine its own directory",
    ]);
  });

  it('umlbuild-tests.yml: its problems with file:line:col; a ping needs an address (Netkit machines have none in lab.conf); a missing --image', async () => {
    await dir.write('lab/lab.conf', 'pc1[0]=A\npc2[0]=A\n');
    await dir.write('lab/umlbuild-tests.yml', 'defaults: { image: none.img }\ntests:\n  - { on: pc1, ping: pc2 }\n  - { on: pc3, run: ls }\n  - { on: pc1, tcp: { to: pc2 } }\n');
    const checks = [
      'DIR/lab/umlbuild-tests.yml:3:22: tests[0].ping: machine pc2 has no address to ping',
      'DIR/lab/umlbuild-tests.yml:4:11: tests[1].on: no machine "pc3" in the lab; did you mean "pc1"? (machines: pc1, pc2)',
      'DIR/lab/umlbuild-tests.yml:5:21: tests[2].tcp: machine pc2 has no address in the lab: give address:',
    ];
    assert.deepEqual(await problems(dir, join(dir.path, 'lab')), ['DIR/lab/umlbuild-tests.yml:1:20: defaults.image: no such image: DIR/lab/none.img', ...checks]);
    assert.deepEqual(await problems(dir, join(dir.path, 'lab'), { image: 'missing.img' }), [`--image: no such image: ${join(process.cwd(), 'missing.img')}`, ...checks], "the caller's image replaces the defaults");
    await dir.write('lab/umlbuild-tests.yml', 'test:\n  - { on: pc1, run: ls }\n');
    assert.deepEqual(await problems(dir, join(dir.path, 'lab')), ['DIR/lab/umlbuild-tests.yml:1:1: test: unknown key "test"; did you mean "tests"?']);
  });

  it('hostile: a symlinked machine directory, startup script or lab.dep that leads out of the lab is refused by name; the victim is untouched', async () => {
    const victim = join(dir.path, 'victim');
    await mkdir(join(victim, 'etc'), { recursive: true });
    await writeFile(join(victim, 'etc/shadow'), 'root:SECRET-zq9:19000::::::\n');
    await dir.write('lab/lab.conf', 'pc1[0]=A\npc2[0]=A\n');
    await symlink(victim, join(dir.path, 'lab/pc1'));
    await symlink(join(victim, 'etc/shadow'), join(dir.path, 'lab/pc2.startup'));
    await symlink(join(victim, 'etc/shadow'), join(dir.path, 'lab/lab.dep'));
    const got = await problems(dir, join(dir.path, 'lab'));
    assert.deepEqual(got, [
      "DIR/lab/lab.dep: DIR/lab/lab.dep is a symbolic link (or under one) that leads out of the lab's directory, to DIR/victim/etc/shadow; refused",
      "DIR/lab/pc1: pc1's directory: DIR/lab/pc1 is a symbolic link (or under one) that leads out of the lab's directory, to DIR/victim; refused",
      "DIR/lab/pc2.startup: DIR/lab/pc2.startup is a symbolic link (or under one) that leads out of the lab's directory, to DIR/victim/etc/shadow; refused",
    ]);
    assert.doesNotMatch(got.join('\n'), /SECRET/);
    assert.equal(await readFile(join(victim, 'etc/shadow'), 'utf8'), 'root:SECRET-zq9:19000::::::\n');
    // A link that stays inside the lab is followed.
    await dir.write('lab/real-pc3/etc/motd', 'pc3\n');
    await writeFile(join(dir.path, 'lab/lab.conf'), 'pc3[0]=A\n');
    await symlink('real-pc3', join(dir.path, 'lab/pc3'));
    for (const link of ['pc1', 'pc2.startup', 'lab.dep']) await rm(join(dir.path, 'lab', link));
    const lab = await loadLab(join(dir.path, 'lab'));
    assert.equal(lab.machines[0]!.tree, join(dir.path, 'lab/pc3'));
  });
});
