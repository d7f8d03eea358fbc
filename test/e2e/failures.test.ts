/**
 * Failing and interrupted builds, as root, with real loop devices, mounts and
 * chroot bind mounts (a busybox shell as the rootfs): nothing is left behind.
 */
import assert from 'node:assert/strict';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { exec } from '../../src/host/exec.js';
import { BIN, tempDir, type TempDir } from '../helpers.js';
import { loopsFor, requireRootWith, umlbuildMounts } from './host-state.js';
import { leftovers, runInPty, tail } from './pty.js';
import { requireTools } from '../support/skip.js';

const recipe = (last: string) => `name: tiny
steps:
  - step: sparse-disk
    size: 64M
  - step: mkfs
  - step: mount
  - step: run
    chroot: false
    command: mkdir -p "$ROOTFS/bin" && cp "$(command -v busybox)" "$ROOTFS/bin/sh"
  - step: run
    command: ${last}
`;

describe('failing and interrupted builds leave nothing behind', function () {
  this.timeout(300000);
  let dir: TempDir;
  before(async function () {
    await requireRootWith(this, 'busybox');
  });
  beforeEach(async () => {
    dir = await tempDir('umlbuild-fail-', '/var/tmp');
  });
  afterEach(() => dir?.remove());

  const noLeftovers = async () => {
    assert.deepEqual(await loopsFor(dir.path), []);
    assert.deepEqual(await umlbuildMounts(), []);
  };

  it('a run step that exits 1 mid-build: exit 1, the failing command named, no mounts, loops or output', async () => {
    const file = await dir.write('r.yml', recipe('echo about to fail >&2; exit 1'));
    const out = join(dir.path, 'out');
    const r = await exec(BIN, [file, '--out', out, '--renderer', 'simple'], { reject: false });
    assert.equal(r.exitCode, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /step steps\[4\] run \(.*r\.yml:10\) failed: command failed \(exit code 1\): chroot \S+ \/bin\/sh -c/);
    assert.match(r.stderr, /\| about to fail/);
    assert.doesNotMatch(r.stderr, /^\s+at /m);
    await noLeftovers();
    assert.deepEqual(await readdir(out), []);
  });

  it('keeps an older good image when the rebuild fails', async () => {
    const out = join(dir.path, 'out');
    const ok = await exec(BIN, [await dir.write('ok.yml', recipe('exit 0')), '--out', out, '--renderer', 'silent'], { reject: false });
    assert.equal(ok.exitCode, 0, ok.stderr);
    await writeFile(join(out, 'tiny.img'), 'older good image');
    const bad = await exec(BIN, [await dir.write('bad.yml', recipe('exit 1')), '--out', out, '--renderer', 'silent'], { reject: false });
    assert.equal(bad.exitCode, 1);
    assert.equal(await readFile(join(out, 'tiny.img'), 'utf8'), 'older good image');
    assert.deepEqual((await readdir(out)).sort(), ['tiny.img', 'tiny.img.bmap', 'tiny.manifest.json', 'tiny.sh']);
    await noLeftovers();
  });

  for (const [signal, code] of [
    ['SIGTERM', 143],
    ['SIGINT', 130],
  ] as const) {
    it(`${signal} during a chroot step unwinds everything and exits ${code}`, async () => {
      const file = await dir.write('r.yml', recipe('echo sleeping; sleep 60'));
      const out = join(dir.path, 'out');
      const child = execa(BIN, [file, '--out', out, '--renderer', 'verbose'], { reject: false, all: true });
      let seen = '';
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`never reached the sleep:\n${seen}`)), 60000);
        child.all!.on('data', (d: Buffer) => {
          seen += d.toString();
          if (seen.includes('[OUTPUT] sleeping')) {
            clearTimeout(timer);
            resolve();
          }
        });
      });
      const t0 = Date.now();
      child.kill(signal);
      const r = await child;
      assert.equal(r.exitCode, code, String(r.all));
      assert.ok(Date.now() - t0 < 20000);
      assert.match(String(r.all), new RegExp(`interrupted by ${signal}`));
      await noLeftovers();
      assert.deepEqual(await readdir(out), []);
    });
  }

  it('Ctrl-C typed into the terminal during a chroot step (SIGINT to the foreground process group, default renderer): exit 130, nothing left', async () => {
    const file = await dir.write('r.yml', recipe('echo sleeping; sleep 60'));
    const out = join(dir.path, 'out');
    const journal = join(dir.path, 'journal');
    const r = runInPty(BIN, [file, '--out', out], { env: { UMLBUILD_JOURNAL_DIR: journal }, cols: 200 });
    try {
      await r.waitFor(/sleeping/, 60000);
      const t0 = Date.now();
      r.ctrlC();
      assert.equal(await r.exited(30000), 130, tail(r.text(), 40));
      assert.ok(Date.now() - t0 < 20000);
    } finally {
      r.kill();
    }
    assert.match(r.text(), /interrupted by SIGINT/);
    assert.deepEqual(await leftovers(r.pid, journal, dir.path), [], 'no mount, loop device, tree or journal');
    assert.deepEqual(await readdir(out), [], 'no partial output');
  });

  /** Start a build and wait until its output shows `marker`; returns the running child and what it printed. */
  const startUntil = async (args: string[], marker: string | RegExp, timeoutMs = 60000) => {
    const child = execa(BIN, [...args, '--renderer', 'verbose'], { reject: false, all: true });
    let seen = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`never saw ${marker}:\n${seen}`)), timeoutMs);
      child.all!.on('data', (d: Buffer) => {
        seen += d.toString();
        if (typeof marker === 'string' ? seen.includes(marker) : marker.test(seen)) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    return { child };
  };

  it('SIGINT or SIGTERM at every step boundary: everything unwound, exit 130/143, the older image intact', async () => {
    // A pause (test-only echo step) after each real step: the signal lands at that boundary.
    const steps = [
      '  - step: sparse-disk\n    size: 64M',
      '  - step: mkfs',
      '  - step: mount',
      '  - step: run\n    chroot: false\n    command: mkdir -p "$ROOTFS/bin" && cp "$(command -v busybox)" "$ROOTFS/bin/sh"',
      '  - step: template\n    template: hostname\n    data: { hostname: tiny }',
      '  - step: run\n    command: echo in the chroot',
      '  - step: unmount',
    ];
    const file = await dir.write(
      'r.yml',
      ['name: tiny', 'variables:', ...steps.map((_, i) => `  pause_${i + 1}: 0`), 'steps:', ...steps.flatMap((st, i) => [st, `  - step: echo\n    message: boundary-${i + 1}\n    seconds: \${pause_${i + 1}}`]), ''].join('\n'),
    );
    const out = join(dir.path, 'out');
    await exec('mkdir', ['-p', out]);
    await writeFile(join(out, 'tiny.img'), 'older good image');
    for (let k = 1; k <= steps.length; k++) {
      const [signal, code] = k % 2 ? (['SIGINT', 130] as const) : (['SIGTERM', 143] as const);
      const { child } = await startUntil([file, '--out', out, '--set', `pause_${k}=60`], `boundary-${k}\n`);
      child.kill(signal);
      const r = await child;
      assert.equal(r.exitCode, code, `boundary ${k}: ${String(r.all).slice(-3000)}`);
      await noLeftovers();
      assert.equal(await readFile(join(out, 'tiny.img'), 'utf8'), 'older good image', `boundary ${k}: the older image survives`);
      assert.deepEqual(await readdir(out), ['tiny.img'], `boundary ${k}: no partial file, no lock`);
    }
  });

  it('SIGKILL mid-build leaves a journal; umlbuild cleanup releases its loop device, mounts and partial image, and nothing else', async () => {
    const foreignFile = join(dir.path, 'foreign.img');
    await exec('truncate', ['-s', '16M', foreignFile]);
    await exec('mkfs.ext4', ['-q', foreignFile]);
    const foreignMount = join(dir.path, 'umlbuild-foreign');
    await exec('mkdir', [foreignMount]);
    await exec('mount', ['-o', 'loop', foreignFile, foreignMount]);
    try {
      const file = await dir.write('r.yml', recipe('echo sleeping; sleep 60'));
      const out = join(dir.path, 'out');
      const { child } = await startUntil([file, '--out', out], '[OUTPUT] sleeping');
      child.kill('SIGKILL');
      await child;
      assert.equal((await loopsFor(join(out, '.tiny.img.partial'))).length, 1, 'the killed build left its loop device');
      assert.ok(
        (await umlbuildMounts()).some((m) => m.includes('umlbuild-root-')),
        'and its mounts',
      );
      const r = await exec(BIN, ['cleanup'], { reject: false });
      assert.equal(r.exitCode, 0, r.stdout + r.stderr);
      assert.match(r.stdout, /^killed 1 process\(es\) still running inside \S+umlbuild-root-\S+ \(left by pid \d+/m);
      assert.match(r.stdout, /^unmounted \S+umlbuild-root-\S+\/proc \(left by pid/m);
      assert.match(r.stdout, /^detached \/dev\/loop\d+ \(\S+\.tiny\.img\.partial-\S+\) \(left by pid/m);
      assert.match(r.stdout, /^removed \S+\.tiny\.img\.partial-\S+ \(left by pid/m);
      assert.match(r.stdout, /^cleaned up after 1 build\(s\)/m);
      assert.deepEqual(await loopsFor(join(out, '.tiny')), []);
      assert.deepEqual(
        (await umlbuildMounts()).filter((m) => !m.startsWith(foreignMount)),
        [],
      );
      assert.match(r.stdout, /^removed the stale lock \S+\/\.tiny\.img\.lock \(left by pid/m);
      assert.deepEqual(await readdir(out), [], 'no partial image, no lock');
      assert.equal((await exec('mountpoint', ['-q', foreignMount], { reject: false })).exitCode, 0, 'a mount it did not make is untouched');
      assert.equal((await loopsFor(foreignFile)).length, 1, 'and so is that loop device');
      const again = await exec(BIN, ['cleanup']);
      assert.match(again.stdout, /^nothing to clean up/m);
    } finally {
      await exec('umount', [foreignMount], { reject: false });
    }
  });

  it('two builds of the same output at once: the second is refused, names the first, and leaves its image alone', async () => {
    const file = await dir.write('r.yml', recipe('echo sleeping; sleep 60'));
    const out = join(dir.path, 'out');
    const { child: first } = await startUntil([file, '--out', out], '[OUTPUT] sleeping');
    const second = await exec(BIN, [file, '--out', out, '--renderer', 'silent'], { reject: false });
    assert.equal(second.exitCode, 1, second.stderr);
    assert.match(second.stderr, new RegExp(`another umlbuild \\(pid ${first.pid}\\) is building \\S+/tiny\\.img: wait for it, or build into another --out`));
    first.kill('SIGTERM');
    assert.equal((await first).exitCode, 143);
    await noLeftovers();
  });

  it('ENOSPC: an image too small says which size to enlarge, and leaves nothing behind', async () => {
    const file = await dir.write(
      'small.yml',
      [
        'name: tiny',
        'steps:',
        '  - step: sparse-disk',
        '    size: 8M',
        '  - step: mkfs',
        '  - step: mount',
        '  - step: run',
        '    chroot: false',
        '    command: dd if=/dev/zero of="$ROOTFS/big" bs=1M count=32',
        '  - step: unmount',
        '',
      ].join('\n'),
    );
    const out = join(dir.path, 'out');
    const r = await exec(BIN, [file, '--out', out, '--renderer', 'silent'], { reject: false });
    assert.equal(r.exitCode, 1, r.stderr);
    assert.match(r.stderr, /No space left on device/);
    assert.match(r.stderr, /the image is too small for what the recipe puts in it: enlarge the size of steps\[0\] sparse-disk \(now 8M; \S+small\.yml:3\)/);
    await noLeftovers();
    assert.deepEqual(await readdir(out), []);
  });

  it('ENOSPC: a full output filesystem is named as such, and nothing is left on it', async () => {
    const full = join(dir.path, 'full');
    await exec('mkdir', [full]);
    await exec('mount', ['-t', 'tmpfs', '-o', 'size=1M', 'tmpfs', full]);
    try {
      const file = await dir.write('r.yml', recipe('exit 0'));
      const r = await exec(BIN, [file, '--out', full, '--renderer', 'silent'], { reject: false });
      assert.equal(r.exitCode, 1, r.stderr);
      assert.match(r.stderr, new RegExp(`the output filesystem \\(${full}\\) is full \\([\\d.]+ MiB free\\): free space there or build into another --out`));
      assert.deepEqual(await readdir(full), []);
    } finally {
      await exec('umount', [full]);
    }
    await noLeftovers();
  });

  it('SIGTERM mid-debootstrap (after it mounted /proc in the tree): exit 143, the tree and its mounts gone', async function () {
    await requireTools(this, 'debootstrap');
    const file = await dir.write(
      'deb.yml',
      ['name: deb', 'steps:', '  - step: directory', '    tmpfs: true', '  - step: debootstrap', '    suite: bookworm', '    variant: minbase', '    backend: debootstrap', '  - step: pack', '    size: 1G', ''].join('\n'),
    );
    const out = join(dir.path, 'out');
    const shmBefore = await readdir('/dev/shm');
    const { child } = await startUntil([file, '--out', out, '--no-cache'], /I: Installing core packages/, 240000);
    const mountedInTree = (await umlbuildMounts()).filter((m) => m.startsWith('/dev/shm/umlbuild-tree-'));
    console.log(`      (at the signal, mounted inside the tree: ${mountedInTree.join(', ') || 'nothing'})`);
    child.kill('SIGTERM');
    const r = await child;
    assert.equal(r.exitCode, 143, String(r.all).slice(-3000));
    await noLeftovers();
    assert.deepEqual(await readdir('/dev/shm'), shmBefore, 'the tmpfs tree is gone');
    assert.deepEqual(await readdir(out), []);
  });
});
