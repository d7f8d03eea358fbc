/**
 * Guests are untrusted (issue 11): a tiny busybox image whose init tries to
 * mount hostfs and write stand-in victim files (one only root may write, one
 * world-writable directory); crafted manifests that name host files, devices
 * and kernel arguments; a launch script planted beside an image; a SIGKILL of
 * `umlbuild test` while UML runs. Every victim lives in this test's temp dir.
 */
import assert from 'node:assert/strict';
import { chmod, link, mkdir, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { execa } from 'execa';
import { exec } from '../../src/host/exec.js';
import { BIN, PROJECT, tempDir, type TempDir } from '../helpers.js';
import { requireRootWith } from './host-state.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Running `linux` processes whose command line holds `part`. */
function umlProcesses(part: string): number[] {
  const found: number[] = [];
  for (const p of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try {
      const argv = readFileSync(`/proc/${p}/cmdline`, 'utf8');
      const state = readFileSync(`/proc/${p}/stat`, 'utf8').replace(/^.*\) /, '')[0];
      if (argv.split('\0')[0]?.endsWith('linux') && argv.includes(part) && state !== 'Z') found.push(Number(p));
    } catch {
      /* gone */
    }
  }
  return found;
}

/**
 * SIGKILL every UML process whose command line holds `part`, until none is left: UML forks
 * the processes it runs the guest's programs in, so one may appear after a listing (it was left
 * behind, stopped, once), and one listed may have exited before its signal (not an error).
 */
async function killAll(part: string): Promise<void> {
  for (let round = 0; round < 50; round++) {
    const pids = umlProcesses(part);
    if (!pids.length) return;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw e;
      }
    }
    await sleep(100);
  }
  throw new Error(`UML processes with ${part} survive SIGKILL: ${umlProcesses(part).join(' ')}`);
}

async function waitFor<T>(what: string, fn: () => T | undefined | false, ms = 90000): Promise<T> {
  for (const t0 = Date.now(); Date.now() - t0 < ms; await sleep(200)) {
    const v = fn();
    if (v) return v;
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('hostile guests: test, boot and cleanup with an untrusted image, manifest or script', function () {
  this.timeout(10 * 60 * 1000);
  let dir: TempDir;
  let out: string;
  let victim: string;
  let world: string;
  const ORIGINAL = 'original content\n';

  before(async function () {
    await requireRootWith(this, 'busybox', 'linux', 'setpriv', 'mkfs.ext4');
    dir = await tempDir('umlbuild-hostile-', '/var/tmp');
    // Reachable by any user, so only the guest's confinement keeps it out (not a 0700 parent).
    await chmod(dir.path, 0o755);
    await mkdir(join(dir.path, 'victim'), { mode: 0o755 });
    victim = join(dir.path, 'victim', 'victim.txt');
    await writeFile(victim, ORIGINAL, { mode: 0o644 });
    world = join(dir.path, 'world');
    await mkdir(world);
    await chmod(world, 0o777);
    // The guest's init: mount hostfs every way it knows and write the victims.
    const V = join(dir.path, 'victim');
    const hostile = `#!/bin/sh
log=/root/hostile.log
n=0
for opt in "" "-o ${V}" "-o ../../../../../../../../..${V}" "-o ${world}" "-o ../../../../../../../../..${world}"; do
  n=$((n+1)); mkdir -p /mnt/h$n
  if mount -t hostfs none /mnt/h$n $opt 2>>$log; then echo "mount $n ($opt): mounted" >>$log; else echo "mount $n ($opt): refused" >>$log; fi
  for f in /mnt/h$n${V}/victim.txt /mnt/h$n/victim.txt; do [ -f "$f" ] && echo pwned >"$f" 2>>$log && echo "wrote $f" >>$log; done
  for d in /mnt/h$n${world}; do [ -d "$d" ] && echo pwned >"$d/pwned-$n" 2>>$log && echo "wrote $d/pwned-$n" >>$log; done
  case "$opt" in *world*) [ -d /mnt/h$n ] && echo pwned >/mnt/h$n/pwned-$n 2>>$log && echo "wrote /mnt/h$n/pwned-$n" >>$log;; esac
done
echo done >>$log
`;
    const hook = await dir.write('hook.sh', `#!/bin/sh\nset -e\ncat > "$TARGET_DIR/etc/hostile.sh" <<'EOF'\n${hostile}EOF\nchmod 755 "$TARGET_DIR/etc/hostile.sh"\necho "::sysinit:/etc/hostile.sh" >> "$TARGET_DIR/etc/inittab"\n`);
    await chmod(hook, 0o755);
    out = join(dir.path, 'out');
    const r = await exec(BIN, [join(PROJECT, 'recipes/busybox.yml'), '--out', out, '--cache-dir', join(dir.path, 'cache'), '--renderer', 'simple', '--set', 'root_password=root', '--hook', `before-pack=${hook}`], { reject: false });
    assert.equal(r.exitCode, 0, `${r.stdout.slice(-3000)}\n${r.stderr}`);
  });
  after(async () => {
    await killAll(dir?.path ?? '/nonexistent');
    await dir?.remove();
  });

  const victimsUntouched = async () => {
    assert.equal(await readFile(victim, 'utf8'), ORIGINAL, 'the root-only victim file is unchanged');
    assert.deepEqual(await readdir(world), [], 'nothing was written into the world-writable directory');
  };

  it('a guest that mounts hostfs writes no host file, and UML runs as an unprivileged user', async () => {
    const child = execa(BIN, ['test', out, '--login', 'root:root', '--expect', 'cat /root/hostile.log=^done$', '--expect', 'sleep 2; echo slept=^slept$'], { reject: false, all: true });
    // The test's umid names the umlbuild process: busybox-test-<pid>-...
    const umid = `umid=busybox-test-${child.pid}-`;
    const pid = await waitFor('the UML process', () => umlProcesses(umid)[0]);
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const uids = /^Uid:\s+(.*)$/m.exec(status)![1]!.split(/\s+/).map(Number);
    const gids = /^Gid:\s+(.*)$/m.exec(status)![1]!.split(/\s+/).map(Number);
    const caps = /^CapEff:\s+(\w+)$/m.exec(status)![1]!;
    const r = await child;
    assert.ok(uids.every((u) => u !== 0) && gids.every((g) => g !== 0), `UML ran with uids ${uids} and gids ${gids}`);
    assert.equal(BigInt(`0x${caps}`) & ~(1n << 13n), 0n, `UML had capabilities ${caps}`);
    assert.equal(r.exitCode, 0, String(r.all));
    assert.match(String(r.all), /ok {3}expect cat \/root\/hostile.log/);
    await victimsUntouched();
  });

  it('a SIGKILL of umlbuild test leaves UML running; umlbuild cleanup stops it and removes its namespace and files', async () => {
    const journal = join(dir.path, 'journal');
    const env = { UMLBUILD_JOURNAL_DIR: journal };
    const child = execa(BIN, ['test', out, '--login', 'root:root', '--expect', 'sleep 600; echo no=never'], { reject: false, env });
    const umid = `umid=busybox-test-${child.pid}-`;
    await waitFor('the UML process', () => umlProcesses(umid)[0]);
    await sleep(3000);
    child.kill('SIGKILL');
    await child;
    await sleep(500);
    assert.notDeepEqual(umlProcesses(umid), [], 'UML outlives the killed umlbuild');
    const [file] = (await readdir(journal)).filter((f) => f.endsWith('.json'));
    const state = JSON.parse(await readFile(join(journal, file!), 'utf8')) as { resources: { kind: string; name?: string; path?: string }[] };
    const netns = state.resources.filter((x) => x.kind === 'netns').map((x) => x.name!);
    const trees = state.resources.filter((x) => x.kind === 'tree').map((x) => x.path!);
    assert.ok(netns.length && trees.length, JSON.stringify(state));
    const c = await exec(BIN, ['cleanup'], { reject: false, env });
    assert.equal(c.exitCode, 0, c.stdout + c.stderr);
    assert.deepEqual(umlProcesses(umid), [], `no UML left:\n${c.stdout}`);
    const list = (await exec('ip', ['netns', 'list'])).stdout;
    for (const n of netns) assert.ok(!list.split('\n').some((l) => l.split(' ')[0] === n), `netns ${n} removed`);
    for (const t of trees) assert.ok(!existsSync(t), `${t} removed`);
    await victimsUntouched();
  });

  it('a guest that powers itself off during a check: `umlbuild test` fails at once saying UML exited, not after the 60 s check timeout', async () => {
    const child = execa(BIN, ['test', out, '--login', 'root:root', '--no-network', '--expect', 'poweroff -f=^never$'], { reject: false });
    const r = await child;
    assert.equal(r.exitCode, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /^ {2}FAIL boot: UML exited while waiting for "poweroff -f" to finish; last console lines:$/m, r.stdout);
    assert.match(r.stdout, /^ {2}skip expect poweroff -f: not run \(the guest stopped answering\)$/m);
    assert.match(r.stdout, /^FAIL: \d+ of \d+ checks passed, 2 not run;/m);
    assert.deepEqual(umlProcesses(`umid=busybox-test-${child.pid}-`), [], 'no UML left');
  });

  describe('crafted manifests', () => {
    let crafted: string;
    let genuine: Record<string, unknown>;
    before(async () => {
      crafted = join(dir.path, 'crafted');
      await mkdir(crafted);
      await link(join(out, 'busybox.img'), join(crafted, 'busybox.img'));
      await symlink(victim, join(crafted, 'link.img'));
      await mkdir(join(crafted, 'tree.root'));
      genuine = JSON.parse(await readFile(join(out, 'busybox.manifest.json'), 'utf8')) as Record<string, unknown>;
    });

    const launch = (extra: Record<string, unknown>) => ({ ...genuine, launch: { ...(genuine.launch as object), ...extra } });
    const cases: [string, () => unknown, RegExp][] = [
      ['a host disk', () => launch({ disks: [{ file: '/dev/sda' }] }), /launch\.disks\.0\.file/],
      ['a disk outside the output', () => launch({ disks: [{ file: '../victim/victim.txt' }] }), /launch\.disks\.0\.file/],
      ['hostfs=/ in args', () => launch({ args: ['hostfs=/'] }), /launch\.args\.0: "hostfs=\/"/],
      ['ubd1= in args', () => launch({ args: ['quiet', `ubd1=${victim}`] }), /launch\.args\.1/],
      ['uml_dir= in args', () => launch({ args: [`uml_dir=${dir.path}`] }), /launch\.args\.0/],
      ['initrd= in args', () => launch({ args: [`initrd=${victim}`] }), /launch\.args\.0/],
      ['mconsole=notify in args', () => launch({ args: [`mconsole=notify:${victim}`] }), /launch\.args\.0/],
      ['con1= in args', () => launch({ args: ['con1=tty:/dev/tty1'] }), /launch\.args\.0/],
      ['a host tty console', () => launch({ consoles: { con0: 'tty:/dev/tty1' } }), /launch\.consoles\.con0/],
      ['a raw network with a BPF file', () => launch({ networks: [{ device: 'vec0', transport: 'raw', ifname: 'eth0', bpffile: victim }] }), /launch\.networks\.0/],
      ['mem beyond the host', () => launch({ mem: '100000G' }), /launch\.mem/],
      ['UML as root', () => launch({ user: 'root' }), /launch\.user/],
      ['a host hostfs share /', () => launch({ hostfs: '/' }), /launch\.hostfs/],
      ['an image outside the output', () => ({ ...genuine, image: { file: '../victim/victim.txt' } }), /image\.file/],
      ['an image that is a link', () => ({ ...genuine, image: { file: 'link.img' } }), /link\.img is a symbolic link/],
      ['a hostfs root tree owned by root (its guest would write as root)', () => ({ ...genuine, image: { file: 'tree.root', kind: 'hostfs' } }), /tree\.root belongs to root/],
      ['a launch script outside the output', () => launch({ script: '../hook.sh' }), /launch\.script/],
      ['a malformed launch section', () => ({ ...genuine, launch: 'ubd1=/dev/sda' }), /launch/],
    ];
    for (const [name, manifest, key] of cases) {
      it(`refuses ${name}: exit 2 naming the file and key, no stack trace, nothing booted`, async () => {
        const file = join(crafted, 'busybox.manifest.json');
        await writeFile(file, JSON.stringify(manifest(), null, 2));
        const r = await exec(BIN, ['test', crafted, '--login', 'root:root', '--no-network'], { reject: false });
        assert.equal(r.exitCode, 2, r.stdout + r.stderr);
        assert.ok(r.stderr.includes(file), r.stderr);
        assert.match(r.stderr, key);
        assert.doesNotMatch(r.stderr, /^\s+at /m, 'no stack trace');
        assert.doesNotMatch(r.stdout, /booting/);
        await victimsUntouched();
      });
    }

    it('refuses a manifest that is not JSON', async () => {
      const file = join(crafted, 'busybox.manifest.json');
      await writeFile(file, '{ "launch": ');
      const r = await exec(BIN, ['test', crafted, '--login', 'root:root'], { reject: false });
      assert.equal(r.exitCode, 2, r.stdout + r.stderr);
      assert.match(r.stderr, new RegExp(`${file}: not JSON`));
      assert.doesNotMatch(r.stderr, /^\s+at /m);
    });
  });

  describe('umlbuild boot and the launch script beside the image', () => {
    let planted: string;
    const evil = (target: string) => `#!/bin/sh\necho pwned > ${target}\n`;
    before(async () => {
      planted = join(dir.path, 'planted');
      await mkdir(planted);
      await link(join(out, 'busybox.img'), join(planted, 'busybox.img'));
      await writeFile(join(planted, 'busybox.manifest.json'), await readFile(join(out, 'busybox.manifest.json')));
    });

    it('refuses a planted script (its sha256 is not the recorded one)', async () => {
      await writeFile(join(planted, 'busybox.sh'), evil(victim), { mode: 0o755 });
      const r = await exec(BIN, ['boot', planted, '--allow-root'], { reject: false, input: '' });
      assert.equal(r.exitCode, 2, r.stdout + r.stderr);
      assert.match(r.stderr, /refusing to run .*busybox\.sh: its sha256 is not the one .* recorded/);
      await victimsUntouched();
    });

    it('refuses a planted script whose sha256 was planted in the manifest too', async () => {
      const text = evil(victim);
      await writeFile(join(planted, 'busybox.sh'), text, { mode: 0o755 });
      const m = JSON.parse(await readFile(join(out, 'busybox.manifest.json'), 'utf8')) as { launch: Record<string, unknown> };
      m.launch.script_sha256 = createHash('sha256').update(text).digest('hex');
      await writeFile(join(planted, 'busybox.manifest.json'), JSON.stringify(m));
      const r = await exec(BIN, ['boot', planted, '--allow-root'], { reject: false, input: '' });
      assert.equal(r.exitCode, 2, r.stdout + r.stderr);
      assert.match(r.stderr, /refusing to run .*busybox\.sh: it is not the script umlbuild writes/);
      await victimsUntouched();
    });

    it('runs the script umlbuild wrote, with UML as umlbuild-guest', async () => {
      const cows = join(dir.path, 'cows');
      await mkdir(cows);
      await exec('chown', ['umlbuild-guest:', cows]);
      const child = execa(BIN, ['boot', out, '--cow', join(cows, 'boot.cow')], { reject: false, env: { UML_NET: 'none' }, stdin: 'pipe', stdout: 'pipe', stderr: 'pipe' });
      const umid = 'umid=busybox';
      const pid = await waitFor('the UML process', () => umlProcesses(`${cows}/boot.cow`).find((p) => readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(umid)));
      const uid = Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
      const guest = Number((await exec('id', ['-u', 'umlbuild-guest'])).stdout);
      await killAll(`${cows}/boot.cow`);
      await child;
      assert.equal(uid, guest);
      await victimsUntouched();
    });
  });
});
