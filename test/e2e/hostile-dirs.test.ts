/**
 * Output, artifact, cache and journal directories someone else prepared:
 * planted links, a symlinked cache subdirectory, a crafted journal, and the
 * leftovers of a SIGKILL. Small images (no bootstrap), stand-in victim files
 * in the test's own directory, and journals and temporary trees scoped to it
 * (UMLBUILD_JOURNAL_DIR, TMPDIR), so other builds on the machine do not count.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmod, lstat, mkdir, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { exec } from '../../src/host/exec.js';
import { pidNamespace } from '../../src/host/lock-file.js';
import { BIN, tempDir, type TempDir } from '../helpers.js';
import { killLeftovers, loopsFor, requireRootWith } from './host-state.js';

const tiny = (extra = '') => `name: tiny
variables:
  root_password:
    default: x
    secret: true
steps:
  - step: sparse-disk
    size: 96M
  - step: mkfs
  - step: mount
  - step: run
    chroot: false
    command: echo hello > "$ROOTFS/hello"${extra}
`;

describe('hostile output, artifact, cache and journal directories', function () {
  this.timeout(300000);
  let dir: TempDir;
  let victims: string;
  let journals: string;
  let tmp: string;
  let env: Record<string, string>;
  before(async function () {
    await requireRootWith(this, 'zstd', 'xz', 'busybox', 'linux');
  });
  beforeEach(async () => {
    dir = await tempDir('hostile-', '/var/tmp');
    // A TMPDIR the guest user can reach, so its probe trees stay in it (guest-files.ts falls back to /tmp otherwise).
    await chmod(dir.path, 0o755);
    victims = join(dir.path, 'victims');
    journals = join(dir.path, 'journals');
    tmp = join(dir.path, 'tmp');
    await mkdir(victims);
    await mkdir(journals, { mode: 0o700 });
    await mkdir(tmp);
    env = { UMLBUILD_JOURNAL_DIR: journals, TMPDIR: tmp };
  });
  const children: { kill(signal: 'SIGKILL'): unknown }[] = [];
  afterEach(async () => {
    // Whatever a failed test left: its build, then anything mounted or attached below its directory.
    for (const c of children.splice(0)) c.kill('SIGKILL');
    await new Promise((r) => setTimeout(r, 300));
    killLeftovers(dir.path);
    await exec(BIN, ['cleanup'], { reject: false, env });
    for (const m of (await exec('findmnt', ['-rn', '-o', 'TARGET'])).stdout
      .split('\n')
      .filter((t) => t.startsWith(`${dir.path}/`))
      .reverse())
      await exec('umount', ['-l', m], { reject: false });
    for (const l of await loopsFor(dir.path)) await exec('losetup', ['-d', l.split(' ')[0]!], { reject: false });
    await dir?.remove();
  });

  const victim = async (name: string) => {
    const file = join(victims, name);
    await writeFile(file, 'precious\n');
    return file;
  };
  const intact = async (...files: string[]) => {
    for (const f of files) assert.equal(await readFile(f, 'utf8'), 'precious\n', `${f} was written through a link`);
  };
  const cli = (args: string[]) => exec(BIN, args, { reject: false, env });

  /** Start umlbuild and resolve once `ready()` holds (polled), with the running child. */
  const startUntil = async (args: string[], ready: () => boolean | Promise<boolean>, what: string) => {
    const child = execa(BIN, [...args, '--renderer', 'verbose'], { reject: false, all: true, env });
    children.push(child);
    let seen = '';
    child.all!.on('data', (d: Buffer) => {
      seen += d.toString();
    });
    const t0 = Date.now();
    while (!(await ready())) {
      if (child.exitCode !== null || Date.now() - t0 > 120000) throw new Error(`never saw ${what}:\n${seen.slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    return { child };
  };

  it('--artifacts DIR with planted links (SHA256SUMS, *.sh, the manifest, the image): replaced, never written through', async () => {
    const art = join(dir.path, 'art');
    const out = join(dir.path, 'out');
    await mkdir(art);
    await mkdir(out);
    const names = ['SHA256SUMS', 'tiny.sh', 'tiny.manifest.json', 'tiny.img.zst', 'tiny.img.bmap'];
    const targets = await Promise.all(names.map((n) => victim(`${n}.victim`)));
    for (let i = 0; i < names.length; i++) await symlink(targets[i]!, join(art, names[i]!));
    await symlink(await victim('out.sh'), join(out, 'tiny.sh'));
    const r = await cli([await dir.write('tiny.yml', tiny()), '--out', out, '--artifacts', art, '--renderer', 'silent', '--cache-dir', join(dir.path, 'cache')]);
    assert.equal(r.exitCode, 0, r.stdout + r.stderr);
    await intact(...targets, join(victims, 'out.sh'));
    for (const n of names) assert.ok((await lstat(join(art, n))).isFile(), `${n} is now a file of its own`);
    assert.deepEqual((await readdir(art)).sort(), [...names].sort(), 'no staging directory left');
    const sums = await exec('sha256sum', ['-c', 'SHA256SUMS'], { cwd: art, reject: false });
    assert.equal(sums.exitCode, 0, sums.stdout + sums.stderr);
    assert.ok((await lstat(join(out, 'tiny.sh'))).isFile());
  });

  it('cache prune: a symlinked cache subdirectory is left alone with a warning; a live lock keeps its entry and debs/', async () => {
    const cache = join(dir.path, 'cache');
    await mkdir(cache);
    await mkdir(join(victims, 'boot'));
    await writeFile(join(victims, 'boot', 'keep.json'), '{}');
    await symlink(join(victims, 'boot'), join(cache, 'bootstrap'));
    const linked = await cli(['cache', 'prune', '--cache-dir', cache]);
    assert.equal(linked.exitCode, 0, linked.stderr);
    assert.match(linked.stderr, /warning: \S+\/cache\/bootstrap is a symbolic link: left alone/);
    assert.deepEqual(await readdir(join(victims, 'boot')), ['keep.json']);

    const busy = join(dir.path, 'busy');
    await mkdir(join(busy, 'bootstrap'), { recursive: true });
    await mkdir(join(busy, 'debs'));
    const sleeper = spawn('sleep', ['60'], { stdio: 'ignore' });
    try {
      await writeFile(join(busy, 'bootstrap', 'k.lock'), `${sleeper.pid} ${pidNamespace()}`);
      for (const f of ['bootstrap/k.json', 'bootstrap/k.tar.zst', 'debs/a.deb', 'bootstrap/old.json']) await writeFile(join(busy, f), '{}');
      const r = await cli(['cache', 'prune', '--cache-dir', busy]);
      assert.equal(r.exitCode, 0, r.stderr);
      assert.match(r.stderr, new RegExp(`k\\.lock: held by a running umlbuild \\(pid ${sleeper.pid}\\)`));
      assert.deepEqual((await readdir(join(busy, 'bootstrap'))).sort(), ['k.json', 'k.lock', 'k.tar.zst']);
      assert.deepEqual(await readdir(join(busy, 'debs')), ['a.deb']);
    } finally {
      sleeper.kill();
    }
  });

  it('cleanup with a crafted journal naming a victim file and a victim tree: both left alone, and said so', async () => {
    const file = await victim('victim.txt');
    await mkdir(join(victims, 'tree'));
    const inTree = join(victims, 'tree', 'inside');
    await writeFile(inTree, 'precious\n');
    const journal = {
      pid: 999999999,
      pidns: pidNamespace(),
      started: 'then',
      resources: [
        { id: 1, kind: 'file', path: file },
        { id: 2, kind: 'tree', path: join(victims, 'tree') },
      ],
    };
    await writeFile(join(journals, 'evil.json'), JSON.stringify(journal));
    const r = await cli(['cleanup']);
    assert.equal(r.exitCode, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /left alone \{"id":1,"kind":"file","path":"\S+victim\.txt"\}: neither below umlbuild's temporary directories nor one of its partial files/);
    assert.match(r.stderr, /left alone \{"id":2,"kind":"tree"/);
    await intact(file, inTree);
    // A journal directory others may write is not read at all.
    await chmod(journals, 0o777);
    const open = await cli(['cleanup']);
    assert.match(open.stderr, /journal directory \S+ not used: it is writable by others/);
    await intact(file, inTree);
  });

  it('the journal of a running build holds no --set password; SIGKILL mid-build, then cleanup: no partial image, no lock', async () => {
    const SECRET = 'SECRET-hostile-pw';
    const out = join(dir.path, 'out');
    const recipe = await dir.write('pause.yml', tiny('\n  - step: echo\n    message: paused\n    seconds: 60'));
    let journalText = '';
    const { child } = await startUntil(
      [recipe, '--out', out, '--set', `root_password=${SECRET}`, '--cache-dir', join(dir.path, 'cache')],
      async () => {
        const files = (await readdir(journals)).filter((f) => f.endsWith('.json'));
        journalText = (await Promise.all(files.map((f) => readFile(join(journals, f), 'utf8').catch(() => '')))).join('\n');
        return /"kind": "mount"/.test(journalText);
      },
      'the mount in the journal',
    );
    assert.doesNotMatch(journalText, new RegExp(SECRET), 'no password in the journal');
    child.kill('SIGKILL');
    await child;
    assert.ok(
      (await readdir(out)).some((f) => f.endsWith('.lock')),
      'the killed build left its lock',
    );
    const r = await cli(['cleanup']);
    assert.equal(r.exitCode, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /^removed the stale lock \S+\/\.tiny\.img\.lock \(left by pid/m);
    assert.deepEqual(await readdir(out), [], 'no partial image, no lock');
    assert.deepEqual(await loopsFor(out), []);
    assert.deepEqual(await readdir(journals), []);
  });

  it('SIGKILL during --artifacts, then cleanup: no partial artifact, no staging directory, no lock', async () => {
    const out = join(dir.path, 'out');
    const art = join(dir.path, 'art');
    const recipe = await dir.write('big.yml', tiny('\n  - step: run\n    chroot: false\n    command: head -c 48M /dev/urandom > "$ROOTFS/junk"'));
    const { child } = await startUntil(
      [recipe, '--out', out, '--artifacts', art, '--compress', 'xz', '--cache-dir', join(dir.path, 'cache')],
      async () => {
        const staging = (await readdir(art).catch(() => [] as string[])).find((f) => /partial/.test(f));
        return Boolean(staging) && (await readdir(join(art, staging!)).catch(() => [] as string[])).length > 0;
      },
      'a partial artifact',
    );
    child.kill('SIGKILL');
    await child;
    killLeftovers(dir.path);
    assert.ok((await readdir(art)).length > 0, 'the killed build left its partial artifact');
    const r = await cli(['cleanup']);
    assert.equal(r.exitCode, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /^removed \S+\/art\/\.tiny\.img\.xz\.partial-\S+ \(left by pid/m);
    assert.deepEqual(await readdir(art), []);
    assert.deepEqual((await readdir(out)).sort(), ['tiny.img', 'tiny.img.bmap', 'tiny.manifest.json', 'tiny.sh'], 'the finished build stays, no lock');
    assert.deepEqual(await readdir(journals), []);
  });

  it('SIGKILL while a COW variant is applied in UML, then cleanup: no probe tree, staging tree or partial COW', async () => {
    const out = join(dir.path, 'out');
    const busybox = [
      '\n  - step: run\n    chroot: false\n    command: |',
      '      set -e; cd "$ROOTFS"; mkdir -p bin proc sys dev tmp',
      '      cp "$(command -v busybox)" bin/busybox',
      '      for a in $(bin/busybox --list); do [ -e bin/$a ] || ln -s busybox bin/$a; done',
      '      mknod -m 600 dev/console c 5 1',
      'variants:',
      '  - name: v1',
      '    steps:',
      '      - { step: run, command: "echo applying; sleep 60" }',
    ].join('\n');
    const recipe = await dir.write('variant.yml', tiny(busybox));
    const { child } = await startUntil(
      [recipe, '--out', out, '--cache-dir', join(dir.path, 'cache')],
      async () => {
        const probe = (await readdir(tmp)).find((f) => f.startsWith('umlbuild-probe-'));
        return Boolean(probe) && (await readdir(join(tmp, probe!)).catch(() => [] as string[])).length > 1;
      },
      'the probe tree',
    );
    child.kill('SIGKILL');
    await child;
    killLeftovers(dir.path);
    assert.ok(
      (await readdir(tmp)).some((f) => f.startsWith('umlbuild-probe-')),
      'the killed build left its probe tree',
    );
    const r = await cli(['cleanup']);
    assert.equal(r.exitCode, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /^removed \S+\/tmp\/umlbuild-probe-\S+ \(left by pid/m);
    assert.deepEqual(
      (await readdir(tmp)).filter((f) => f.startsWith('umlbuild-')),
      [],
      'no probe, staging or mount-point tree',
    );
    assert.deepEqual((await readdir(out)).sort(), ['tiny.img', 'tiny.img.bmap', 'tiny.manifest.json', 'tiny.sh']);
    assert.deepEqual(await readdir(journals), []);
  });
});
