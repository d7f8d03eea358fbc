/**
 * Labs (issue 16): two busybox machines on one segment come up in a private network namespace, ping each
 * other, move 4 MB over TCP, answer `lab exec` and `lab status` (bin/umlbuild, and `lab console` in a
 * pseudo-terminal); a failing check makes `lab test` exit 1 naming it; SIGKILL + `umlbuild cleanup`, Ctrl-C and
 * SIGTERM during `umlbuild lab up` leave nothing of the lab; a link planted at the lab's state directory is refused.
 *
 * Most labs are Lab objects made here (the API takes them); the signal tests run `umlbuild lab up` on a lab file.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, chown, mkdir, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { downLab, execLab, statusLab, testLab, upLab } from '../../src/api/lab.js';
import { exec } from '../../src/host/exec.js';
import type { Lab, LabCheck } from '../../src/model/lab.js';
import { requireRootWith } from '../support/skip.js';
import { BIN, PROJECT, tempDir, type TempDir } from '../helpers.js';
import { runInPty } from './pty.js';

const W = 'lab.test.ts';

describe('labs: machines wired into networks (issue 16)', function () {
  this.timeout(5 * 60 * 1000);
  let dir: TempDir;
  let image: string;
  let journals: string;
  const saved = { journal: process.env.UMLBUILD_JOURNAL_DIR, password: process.env.UMLBUILD_TEST_PASSWORD };
  const env = () => ({ UMLBUILD_JOURNAL_DIR: journals, UMLBUILD_TEST_PASSWORD: 'root' });

  const twoMachines = (name: string, checks: LabCheck[] = [], startup: string[] = []): Lab => ({
    name,
    file: join(dir.path, `${name}.yml`),
    dir: dir.path,
    format: 'umlbuild',
    segments: [{ name: 'lan', where: W }],
    machines: ['a', 'b'].map((m, i) => ({
      name: m,
      source: { kind: 'image', image },
      interfaces: [{ name: 'eth0', segment: 'lan', address: `10.0.0.${i + 1}/24` }],
      routes: [],
      files: [],
      startup: [`echo started > /tmp/startup-${m}`, ...startup],
      after: [],
      where: W,
    })),
    checks,
  });

  /** What is left of a lab: its namespace, taps (in it), COW files and guest directory, state directory, UML processes. */
  const leftovers = async (name: string): Promise<string[]> => {
    const left: string[] = [];
    const ns = (await exec('ip', ['netns', 'list'])).stdout.split('\n').filter((l) => l.startsWith(`umlbuild-lab-${name}-`));
    left.push(...ns.map((n) => `netns ${n}`));
    const tmp = (await readdir('/tmp')).filter((f) => f.startsWith(`umlbuild-lab-${name}-`));
    left.push(...tmp.map((f) => `/tmp/${f}`));
    const labs = join(journals, 'labs');
    if (existsSync(labs)) left.push(...(await readdir(labs)).filter((f) => f.includes(name)).map((f) => join(labs, f)));
    const procs = (await exec('pgrep', ['-af', `umlbuild-lab-${name}-`], { reject: false })).stdout.split('\n').filter((l) => / linux /.test(l) || /^\d+ linux/.test(l));
    left.push(...procs);
    // The processes that hold the consoles open (`sleep infinity` as the guest user) end with their UML.
    // (a moment after their UML: the hangup reaches them when its last process closed the pts)
    let holders: string[] = [];
    for (let i = 0; i < 30; i++) {
      holders = (await exec('pgrep', ['-a', '-u', 'umlbuild-guest', '-x', 'sleep'], { reject: false })).stdout.split('\n').filter((l) => l.includes('infinity'));
      if (!holders.length) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    left.push(...holders.map((h) => `console holder ${h}`));
    return left;
  };

  const umlbuild = (args: string[]) => exec(BIN, args, { reject: false, env: env() });

  before(async function () {
    await requireRootWith(this, 'busybox', 'linux', 'setpriv', 'mkfs.ext4', 'ip', 'uml_mconsole');
    dir = await tempDir('umlbuild-labtest-', '/var/tmp');
    journals = join(dir.path, 'run');
    await mkdir(journals, { mode: 0o700 });
    process.env.UMLBUILD_JOURNAL_DIR = journals;
    process.env.UMLBUILD_TEST_PASSWORD = 'root';
    const out = join(dir.path, 'out');
    const r = await exec(BIN, [join(PROJECT, 'recipes/busybox.yml'), '--out', out, '--cache-dir', join(dir.path, 'cache'), '--renderer', 'simple', '--set', 'root_password=root', '--set', 'network=none'], { reject: false });
    assert.equal(r.exitCode, 0, `${r.stdout.slice(-3000)}\n${r.stderr}`);
    image = join(out, 'busybox.img');
    // The guest user reaches the image only through the descriptor umlbuild opens; the directories may stay private.
    await chmod(dir.path, 0o755);
  });
  after(async () => {
    for (const name of ['two', 'fails', 'recipe', 'killed', 'int-sigint', 'int-sigterm', 'refused', 'variant', 'uplink', 'swapped']) await downLab(name).catch(() => undefined);
    process.env.UMLBUILD_JOURNAL_DIR = saved.journal;
    process.env.UMLBUILD_TEST_PASSWORD = saved.password;
    if (saved.journal === undefined) delete process.env.UMLBUILD_JOURNAL_DIR;
    if (saved.password === undefined) delete process.env.UMLBUILD_TEST_PASSWORD;
    await dir?.remove();
  });

  it('two machines on a segment: up, ping, 4 MB over TCP, exec, status, console in a terminal, test, down', async () => {
    const checks: LabCheck[] = [
      { kind: 'ping', name: 'a pings b', machine: 'a', address: '10.0.0.2', count: 2, where: W },
      { kind: 'tcp', name: 'a sends 4 MB to b', machine: 'a', to: 'b', address: '10.0.0.2', port: 5001, mbytes: 4, where: W },
      { kind: 'run', name: 'b ran its startup', machine: 'b', command: 'cat /tmp/startup-b', status: 0, expect: '^started$', where: W },
    ];
    const lines: string[] = [];
    const lab = twoMachines('two', checks);
    // Files and a tree (a Netkit machine directory) copied in before the startup; b boots after a is up.
    const motd = await dir.write('motd', 'welcome to the lab\n');
    await mkdir(join(dir.path, 'tree-a', 'etc', 'lab'), { recursive: true });
    await writeFile(join(dir.path, 'tree-a', 'etc', 'lab', 'role'), 'router\n');
    lab.machines[0]!.files = [{ guest: '/etc/motd.lab', host: motd, mode: 0o640 }];
    lab.machines[0]!.tree = join(dir.path, 'tree-a');
    lab.machines[0]!.startup.push('cat /etc/lab/role > /tmp/role-at-startup');
    lab.machines[1]!.after = ['a'];
    const state = await upLab(lab, { log: (l) => lines.push(l) });
    assert.ok(lines.findIndex((l) => /^a: up/.test(l)) < lines.findIndex((l) => /^b: \$ .* linux /.test(l)), `b started after a was up:\n${lines.join('\n')}`);
    // The shell `lab up` logged in stays: the same one answers every exec (its pid).
    // Each console is held open between commands (a pts whose last user closes it hangs up the line).
    const holders = (await exec('pgrep', ['-a', '-u', 'umlbuild-guest', '-x', 'sleep'], { reject: false })).stdout.split('\n').filter((l) => l.includes('infinity'));
    assert.equal(holders.length, 2, `one console holder per machine: ${holders.join('; ')}`);
    const shell = (await execLab('two', 'a', 'echo $$')).output;
    assert.match(shell, /^\d+$/);
    const files = await execLab('two', 'a', 'cat /etc/motd.lab /tmp/role-at-startup; stat -c %a /etc/motd.lab');
    assert.deepEqual(files, { output: 'welcome to the lab\nrouter\n640', status: 0 });
    assert.deepEqual(
      state.machines.map((m) => m.name),
      ['a', 'b'],
    );
    // One shared base, one COW file per machine (no copy of the image).
    const cows = (await readdir(state.guestDir)).filter((f) => f.endsWith('.cow'));
    assert.deepEqual(cows.sort(), ['a.cow', 'b.cow']);
    // Up twice: refused, naming the way out; the lab that is up is untouched.
    await assert.rejects(upLab(lab), /the lab two is up already .*umlbuild lab down/);
    const s = await statusLab('two');
    assert.ok(s.machines.every((m) => m.running));

    // The command line, on the lab that is up (named).
    const ex = await umlbuild(['lab', 'exec', 'two', 'a', '--', 'ip -4 addr show eth0; hostname']);
    assert.equal(ex.exitCode, 0, ex.stderr);
    assert.match(ex.stdout, /inet 10\.0\.0\.1\/24/);
    assert.match(ex.stdout, /^a$/m);
    const bad = await umlbuild(['lab', 'exec', 'two', 'b', '--', 'false || (exit 7)']);
    assert.equal(bad.exitCode, 7, 'exec exits with the command status');
    const st = await umlbuild(['lab', 'status', 'two']);
    assert.equal(st.exitCode, 0, st.stderr);
    assert.match(st.stdout, /^a +\d+ +running .*\/dev\/pts\/\d+$/m);
    assert.match(st.stdout, /^b +\d+ +running .*\/dev\/pts\/\d+$/m);

    // A person at a terminal: the console, a command, Ctrl-] to detach.
    const con = runInPty(BIN, ['lab', 'console', 'two', 'b'], { env: env() });
    await con.waitFor(/detach with Ctrl-\]/, 20000);
    con.type('echo "console:$(hostname)"\r');
    await con.waitFor(/console:b/, 20000);
    con.type('\x1d');
    assert.equal(await con.exited(20000), 0, con.text());
    // The shell stays logged in for the next user.
    assert.equal((await execLab('two', 'b', 'echo still here')).output, 'still here');
    assert.equal((await execLab('two', 'a', 'echo $$')).output, shell, "a's login shell is the one `lab up` started");

    const t = await umlbuild(['lab', 'test', 'two']);
    assert.equal(t.exitCode, 0, `${t.stdout}\n${t.stderr}`);
    assert.match(t.stdout, /^ok {3}a pings b \(\d+\.\d s\)$/m);
    assert.match(t.stdout, /^ok {3}a sends 4 MB to b \(\d+\.\d s\)$/m);
    assert.match(t.stdout, /^PASS: 3 of 3 checks passed$/m);

    const d = await umlbuild(['lab', 'down', 'two']);
    assert.equal(d.exitCode, 0, d.stderr);
    assert.match(d.stdout, /lab two is down \(2 machine\(s\) stopped\)/);
    assert.deepEqual(await leftovers('two'), []);
  });

  it('a failing check makes `lab test` exit 1 naming it; a lab that is not up is brought up and down for it', async () => {
    const checks: LabCheck[] = [
      { kind: 'ping', name: 'a pings b', machine: 'a', address: '10.0.0.2', count: 1, where: W },
      { kind: 'ping', name: 'a pings nobody', machine: 'a', address: '10.0.0.9', count: 1, where: W },
      { kind: 'run', name: 'wrong output', machine: 'b', command: 'echo hello', status: 0, expect: '^goodbye$', where: W },
    ];
    const lab = twoMachines('fails', checks);
    // The API's CI path: up, checks, down in one go.
    const r = await testLab(lab);
    assert.equal(r.transient, true);
    assert.deepEqual(
      r.results.map((c) => [c.name, c.ok]),
      [
        ['a pings b', true],
        ['a pings nobody', false],
        ['wrong output', false],
      ],
    );
    assert.deepEqual(await leftovers('fails'), []);
    // The command line on the lab that is up.
    await upLab(lab);
    const t = await umlbuild(['lab', 'test', 'fails']);
    assert.equal(t.exitCode, 1, `${t.stdout}\n${t.stderr}`);
    assert.match(t.stdout, /^FAIL a pings nobody: no reply from 10\.0\.0\.9/m);
    assert.match(t.stdout, /^FAIL wrong output: output does not match/m);
    assert.match(t.stdout, /^FAIL: 2 of 3 checks failed: a pings nobody, wrong output$/m);
    assert.equal((await umlbuild(['lab', 'down', 'fails'])).exitCode, 0);
    assert.deepEqual(await leftovers('fails'), []);
  });

  it('machines from a recipe: built once (warm, from the cache) into the cache, one base for both, and booted', async () => {
    const lab = twoMachines('recipe', [{ kind: 'ping', name: 'a pings b', machine: 'a', address: '10.0.0.2', count: 1, where: W }]);
    for (const m of lab.machines) m.source = { kind: 'recipe', recipe: join(PROJECT, 'recipes/busybox.yml'), set: { root_password: 'root', network: 'none' } };
    const lines: string[] = [];
    const r = await testLab(lab, { cacheDir: join(dir.path, 'cache'), log: (l) => lines.push(l) });
    assert.ok(r.ok, JSON.stringify(r.results));
    assert.equal(lines.filter((l) => /^building .*busybox\.yml for a into .*\/cache\/labs\/busybox-[0-9a-f]{12}$/.test(l)).length, 1, lines.join('\n'));
    assert.ok(!lines.some((l) => /^building .* for b /.test(l)), 'b shares the image built for a');
    assert.deepEqual(await leftovers('recipe'), []);
  });

  it('a machine that cannot log in: `lab up` fails naming it and its log, and releases everything', async () => {
    process.env.UMLBUILD_TEST_PASSWORD = 'wrong';
    try {
      await assert.rejects(upLab(twoMachines('refused')), (e: Error) => {
        assert.match(e.message, /^(a|b): .*login as root was refused \(wrong password\?\)/);
        assert.match(e.message, /last lines of its log:/);
        return true;
      });
    } finally {
      process.env.UMLBUILD_TEST_PASSWORD = 'root';
    }
    assert.deepEqual(await leftovers('refused'), []);
  });

  it("machines from a COW variant: each boots its own copy of the variant's layer over the shared base; the variant is unchanged", async () => {
    // A busybox variant (hostname v1 in /etc/hostname), written directly beside its base.
    const vdir = join(dir.path, 'variant');
    await mkdir(vdir);
    await exec('cp', ['-r', join(PROJECT, 'recipes/busybox'), join(vdir, 'busybox')]);
    await writeFile(join(vdir, 'v.yml'), `name: bbv\nextends: ${join(PROJECT, 'recipes/busybox.yml')}\nvariant_steps:\n  - { step: template, template: hostname }\nvariants:\n  - { name: v1, variables: { hostname: v1 } }\n`);
    const b = await exec(BIN, [join(vdir, 'v.yml'), '--out', join(vdir, 'out'), '--cache-dir', join(dir.path, 'cache'), '--renderer', 'simple', '--set', 'root_password=root', '--set', 'network=none'], { reject: false });
    assert.equal(b.exitCode, 0, `${b.stdout.slice(-3000)}\n${b.stderr}`);
    const cow = join(vdir, 'out/v1.cow');
    const before = await exec('sha256sum', [cow]);
    await writeFile(
      join(vdir, 'lab.yml'),
      [
        'name: variant',
        'defaults: { image: out/v1.cow, memory: 64M }',
        'segments: [lan]',
        'machines:',
        '  m1: { interfaces: { eth0: { segment: lan, address: 10.0.9.1/24 } }, startup: ["echo m1 > /etc/role"] }',
        '  m2: { interfaces: { eth0: { segment: lan, address: 10.0.9.2/24 } } }',
        'tests:',
        '  - { on: m1, run: cat /etc/hostname, expect: "^v1$" }',
        '  - { on: m2, run: cat /etc/hostname, expect: "^v1$" }',
        '  - { on: m2, run: cat /etc/role, status: 1 }',
        '  - { on: m1, ping: m2 }',
        '',
      ].join('\n'),
    );
    const r = await umlbuild(['lab', 'test', join(vdir, 'lab.yml')]);
    assert.equal(r.exitCode, 0, `${r.stdout.slice(-3000)}\n${r.stderr}`);
    assert.match(r.stdout, /PASS: 4 of 4 checks passed/);
    assert.equal((await exec('sha256sum', [cow])).stdout, before.stdout, "the variant's COW file is only read");
    assert.deepEqual(await leftovers('variant'), []);
  });

  describe('a segment with an uplink, from a namespace standing in for the host', () => {
    // The "host" is a network namespace made here, with a bridge holding 10.66.0.254/24 and a veth pair;
    // umlbuild runs in it (nsenter --net: only the network namespace changes). No traffic leaves it.
    const host = `umlbuild-uplinkhost-${process.pid}`;
    const inHost = (args: string[]) => exec('nsenter', [`--net=/run/netns/${host}`, BIN, ...args], { reject: false, env: env() });
    const labFile = (uplink: string) => join(dir.path, `uplink-${uplink}.yml`);
    before(async () => {
      await exec('ip', ['netns', 'add', host]);
      for (const args of [
        ['link', 'set', 'lo', 'up'],
        ['link', 'add', 'ulbr0', 'type', 'bridge'],
        ['addr', 'add', '10.66.0.254/24', 'dev', 'ulbr0'],
        ['link', 'set', 'ulbr0', 'up'],
        ['link', 'add', 'ulve0', 'type', 'veth', 'peer', 'name', 'ulve1'],
      ])
        await exec('ip', ['-n', host, ...args]);
      for (const uplink of ['ulbr0', 'ulve0'])
        await writeFile(
          labFile(uplink),
          [
            'name: uplink',
            `defaults: { image: ${image}, memory: 64M }`,
            `segments: { wan: { uplink: ${uplink} } }`,
            'machines:',
            '  m1: { interfaces: { eth0: { segment: wan, address: 10.66.0.1/24 } } }',
            'tests:',
            '  - { on: m1, ping: 10.66.0.254 }',
            '',
          ].join('\n'),
        );
    });
    after(async () => {
      await exec('ip', ['netns', 'delete', host], { reject: false });
    });

    it('refused without --allow-uplink (exit 2, naming the segment), and when the uplink is no bridge; nothing made', async () => {
      const r = await inHost(['lab', 'test', labFile('ulbr0')]);
      assert.equal(r.exitCode, 2, `${r.stdout}\n${r.stderr}`);
      assert.match(r.stderr, /uplink-ulbr0\.yml:\d+:\d+ segments\.wan: segment wan: uplink ulbr0 would connect the lab's machines to this host's network: allow it with --allow-uplink/);
      const d = await inHost(['lab', 'test', '--allow-uplink', labFile('ulve0')]);
      assert.equal(d.exitCode, 2, `${d.stdout}\n${d.stderr}`);
      assert.match(d.stderr, /segment wan: uplink ulve0: veth, not a bridge/);
      assert.doesNotMatch(r.stderr + d.stderr, /^\s+at /m);
      assert.deepEqual(await leftovers('uplink'), []);
    });

    it('with --allow-uplink: the machine reaches the host bridge; down removes the veth pair', async () => {
      const r = await inHost(['lab', 'test', '--allow-uplink', labFile('ulbr0')]);
      assert.equal(r.exitCode, 0, `${r.stdout.slice(-3000)}\n${r.stderr}`);
      assert.match(r.stdout, /ok {3}m1: ping 10\.66\.0\.254/);
      assert.match(r.stdout, /segment wan: uplink to the host bridge ulbr0 \(lu[0-9a-f]{8}\)/);
      const links = (await exec('ip', ['-n', host, '-o', 'link', 'show'])).stdout;
      assert.doesNotMatch(links, /\blu[0-9a-f]{8}\b/, 'the veth pair went with the lab');
      assert.deepEqual(await leftovers('uplink'), []);
    });
  });

  /** `bin/umlbuild lab up FILE` for a two-machine lab file whose machines then run a long startup (`sleep 60`). */
  const upInChild = async (name: string) => {
    const file = join(dir.path, `${name}.yml`);
    await writeFile(
      file,
      [
        `name: ${name}`,
        `defaults: { image: ${image}, memory: 64M }`,
        'segments: [lan]',
        'machines:',
        '  a: { interfaces: { eth0: { segment: lan, address: 10.0.0.1/24 } }, startup: ["sleep 60"] }',
        '  b: { interfaces: { eth0: { segment: lan, address: 10.0.0.2/24 } }, startup: ["sleep 60"] }',
        '',
      ].join('\n'),
    );
    const child = spawn(BIN, ['lab', 'up', file], { cwd: PROJECT, env: { ...process.env, ...env() } });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const exited = new Promise<number | null>((ok) => child.on('exit', (code, signal) => ok(signal ? -1 : code)));
    const waitFor = async (re: RegExp, ms: number) => {
      for (const until = Date.now() + ms; !re.test(output); ) {
        if (Date.now() > until) throw new Error(`timed out waiting for ${re}:\n${output}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    return { child, exited, waitFor, output: () => output };
  };

  it('SIGKILL of `umlbuild lab up`, then `umlbuild cleanup`: no namespace, tap, COW file, state directory or UML process is left', async () => {
    // Killed while the machines run their startup (a long one): UML runs, the namespace and the COW files exist.
    const run = await upInChild('killed');
    await run.waitFor(/a: logged in/, 60000);
    await run.waitFor(/b: logged in/, 60000);
    run.child.kill('SIGKILL');
    await run.exited;
    assert.notDeepEqual(await leftovers('killed'), [], 'the killed run left its lab');
    const c = await umlbuild(['cleanup']);
    assert.equal(c.exitCode, 0, `${c.stdout}\n${c.stderr}`);
    assert.match(c.stdout, /deleted network namespace umlbuild-lab-killed-/);
    assert.match(c.stdout, /killed UML lab\d-a-/);
    assert.deepEqual(await leftovers('killed'), []);
  });

  for (const [signal, code, what] of [
    ['SIGINT', 130, 'Ctrl-C'],
    ['SIGTERM', 143, 'SIGTERM'],
  ] as const) {
    it(`${what} (${signal}) while \`umlbuild lab up\` runs releases everything it made, exit ${code}`, async () => {
      const name = `int-${signal.toLowerCase()}`;
      const run = await upInChild(name);
      await run.waitFor(/a: logged in/, 60000);
      await run.waitFor(/b: logged in/, 60000);
      run.child.kill(signal);
      assert.equal(await run.exited, code, run.output());
      assert.doesNotMatch(run.output(), /^\s+at /m, 'no stack trace');
      assert.deepEqual(await leftovers(name), []);
      assert.deepEqual(await readdir(journals).then((f) => f.filter((n) => n.endsWith('.json'))), [], 'no journal left');
    });
  }

  it('hostile: a machine file swapped for a link to a stand-in victim, or for a FIFO, after loading: refused naming it, the victim never sent, nothing left', async () => {
    const victim = await writeFile(join(dir.path, 'victim-secret'), 'victim secret\n').then(() => join(dir.path, 'victim-secret'));
    const link = join(dir.path, 'swapped-file');
    await symlink(victim, link);
    const fifo = join(dir.path, 'swapped-fifo');
    await exec('mkfifo', [fifo]);
    for (const host of [link, fifo]) {
      const lab = twoMachines('swapped');
      lab.machines[0]!.files = [{ guest: '/etc/leak', host }];
      const e = await upLab(lab).then(
        () => undefined,
        (x: Error) => x,
      );
      assert.match(String(e?.message), new RegExp(`file ${host.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is (a symbolic link|a FIFO), not a regular file: refused`));
      assert.deepEqual(await leftovers('swapped'), []);
    }
    assert.equal(await readFile(victim, 'utf8'), 'victim secret\n');
  });

  it('hostile: a link planted at the lab state directory is refused; its target is untouched', async () => {
    const victim = join(dir.path, 'victim');
    await mkdir(victim, { mode: 0o700 });
    await writeFile(join(victim, 'keep.txt'), 'original\n');
    await mkdir(join(journals, 'labs'), { recursive: true, mode: 0o700 });
    await symlink(victim, join(journals, 'labs', 'hostile'));
    const e = await upLab(twoMachines('hostile')).then(
      () => undefined,
      (x: Error) => x,
    );
    assert.match(String(e?.message), /refusing to use the lab state directory .*hostile: it is a symbolic link/);
    // `lab down`, `lab status` and `lab exec` refuse it too.
    for (const args of [
      ['lab', 'down', 'hostile'],
      ['lab', 'status', 'hostile'],
      ['lab', 'exec', 'hostile', 'a', '--', 'true'],
    ]) {
      const r = await umlbuild(args);
      assert.notEqual(r.exitCode, 0, args.join(' '));
      assert.match(r.stderr, /refusing to use the lab state directory .*: it is a symbolic link/, args.join(' '));
    }
    assert.deepEqual(await readdir(victim), ['keep.txt']);
    assert.equal(await readFile(join(victim, 'keep.txt'), 'utf8'), 'original\n');
    assert.deepEqual(
      (await leftovers('hostile')).filter((l) => !l.endsWith('/labs/hostile')),
      [],
    );
    // A directory someone else owns is no lab state either.
    const foreign = join(journals, 'labs', 'foreign');
    await mkdir(foreign, { mode: 0o700 });
    await chown(foreign, 65534, 65534);
    await assert.rejects(upLab(twoMachines('foreign')), /refusing to use the lab state directory .*foreign: it is owned by uid 65534/);
    const r = await umlbuild(['lab', 'down', 'foreign']);
    assert.equal(r.exitCode, 1, r.stderr);
    assert.ok(existsSync(foreign), 'lab down left the foreign directory alone');
  });
});
