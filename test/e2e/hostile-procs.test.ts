/**
 * Processes a `run` step leaves behind in the chroot (setsid, daemons): the
 * build finds them by their root directory, kills them before it unmounts,
 * names them in a warning, and the image's sha256 is taken after the last
 * writer is gone. Everything is scoped to this suite's temp directory (TMPDIR
 * points there, so the mount points are below it). And wrong answers: a
 * warm build from a directory whose file changed but kept its size and mtime.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { exec } from '../../src/host/exec.js';
import { BIN, tempDir, type TempDir } from '../helpers.js';
import { loopsFor, requireRootWith } from './host-state.js';

/** Processes whose command line contains `marker`. */
function processesWith(marker: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (cmdline.includes(marker)) found.push(`${pid} ${cmdline}`);
    } catch {
      /* gone meanwhile */
    }
  }
  return found;
}

async function mountsUnder(path: string): Promise<string[]> {
  const { stdout } = await exec('findmnt', ['--raw', '--noheadings', '--output', 'TARGET']);
  return stdout.split('\n').filter((l) => l.startsWith(path));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('leftover processes in the chroot', function () {
  this.timeout(180000);
  let dir: TempDir;
  before(async function () {
    await requireRootWith(this, 'busybox', 'debugfs');
    dir = await tempDir('umlbuild-procs-', '/var/tmp');
  });
  after(async () => {
    // Whatever the outcome, nothing of this suite keeps running.
    for (const p of processesWith('umlbuild-procs-marker')) {
      try {
        process.kill(Number(p.split(' ')[0]), 'SIGKILL');
      } catch {
        /* exited since it was listed */
      }
    }
    await dir?.remove();
  });

  it('a run step that leaves a setsid process behind: killed and named before unmount, the sha256 matches the final image', async () => {
    const marker = `umlbuild-procs-marker-${process.pid}`;
    const recipe = await dir.write(
      'daemon.yml',
      `name: daemon
steps:
  - step: sparse-disk
    size: 32M
  - step: mkfs
    label: daemon
  - step: mount
  - step: run
    chroot: false
    command: mkdir -p "$ROOTFS/bin" && cp "$(command -v busybox)" "$ROOTFS/bin/busybox" && for a in sh setsid sleep echo; do ln -s busybox "$ROOTFS/bin/$a"; done
  - step: run
    command: |
      setsid sh -c 'sleep 6; echo late > /late; : ${marker}' </dev/null >/dev/null 2>&1 &
  - step: run
    command: |
      ( setsid sh -c 'sleep 6; echo later > /later; : ${marker}' </dev/null >/dev/null 2>&1 & )
  - step: run
    chroot: false
    command: |
      cd "$ROOTFS" && ( setsid sh -c 'sleep 6; echo host > host-late; : ${marker}' </dev/null >/dev/null 2>&1 & )
  - step: unmount
`,
    );
    const r = await exec(BIN, [recipe, '--out', dir.path, '--renderer', 'simple', '--checksum', 'sha256'], { reject: false, env: { TMPDIR: dir.path } });
    assert.equal(r.exitCode, 0, r.stdout + r.stderr);
    assert.match(r.stderr, /killed .*pid \d+ \([^)]*sh -c sleep 6; echo late/, r.stderr);
    assert.match(r.stderr, /pid \d+ \([^)]*sh -c sleep 6; echo later/, r.stderr);
    assert.match(r.stderr, /pid \d+ \([^)]*sh -c sleep 6; echo host > host-late/, 'a host process working in the mounted image is killed before the unmount');
    assert.deepEqual(processesWith(marker), [], 'no process of the build is left');
    assert.deepEqual(await loopsFor(dir.path), [], 'no loop device of the build is left');
    assert.deepEqual(await mountsUnder(dir.path), [], 'no mount of the build is left');
    // Had a writer survived, it would write now, after the sha256 was taken.
    await sleep(6500);
    const image = join(dir.path, 'daemon.img');
    const manifest = JSON.parse(await readFile(join(dir.path, 'daemon.manifest.json'), 'utf8')) as { image: { sha256: string } };
    const { stdout } = await exec('sha256sum', [image]);
    assert.equal(manifest.image.sha256, stdout.split(' ')[0], 'the manifest sha256 is that of the final image');
    const late = await exec('debugfs', ['-R', 'stat /late', image], { reject: false });
    assert.match(late.stdout + late.stderr, /not found/, 'the leftover process never wrote into the image');
    const hostLate = await exec('debugfs', ['-R', 'stat /host-late', image], { reject: false });
    assert.match(hostLate.stdout + hostLate.stderr, /not found/);
  });

  it('a directory-first build: a host process a chroot: false step left in the tree is stopped before pack', async () => {
    const marker = `umlbuild-procs-marker-dir-${process.pid}`;
    const recipe = await dir.write(
      'dirfirst.yml',
      `name: dirfirst
steps:
  - step: directory
  - step: run
    chroot: false
    command: |
      cd "$ROOTFS" && ( setsid sh -c 'sleep 3; echo late > late; : ${marker}' </dev/null >/dev/null 2>&1 & )
  - step: pack
    fs: tar
`,
    );
    const r = await exec(BIN, [recipe, '--out', dir.path, '--renderer', 'simple'], { reject: false, env: { TMPDIR: dir.path } });
    assert.equal(r.exitCode, 0, r.stdout + r.stderr);
    assert.match(r.stderr, /killed .*pid \d+ \([^)]*sh -c sleep 3; echo late > late/, r.stderr);
    assert.deepEqual(processesWith(marker), []);
    const { stdout } = await exec('tar', ['-tf', join(dir.path, 'dirfirst.tar')]);
    assert.doesNotMatch(stdout, /late/);
  });
});

describe('warm builds from a directory see content changes', function () {
  this.timeout(180000);
  let dir: TempDir;
  before(async function () {
    await requireRootWith(this, 'debugfs', 'mkfs.ext4');
    dir = await tempDir('umlbuild-stale-', '/var/tmp');
  });
  after(() => dir?.remove());

  it('a file changed with the same size and mtime (touch -r) is rebuilt, not taken from the cached base image', async () => {
    const tree = join(dir.path, 'tree');
    const motd = await dir.write('tree/etc/motd', 'version A\n');
    await dir.write('tree/etc/shadow', 'root:*:19000:0:99999:7:::\n');
    const recipe = await dir.write(
      'fromdir.yml',
      `name: fromdir
variables: {hostname: fromdir1}
steps:
  - step: directory
  - step: rootfs-dir
    source: ${tree}
  - step: template
    template: hostname
  - step: pack
    size: 16M
`,
    );
    const image = join(dir.path, 'fromdir.img');
    const build = async () => {
      const r = await exec(BIN, [recipe, '--out', dir.path, '--renderer', 'simple', '--cache-dir', join(dir.path, 'cache')], { reject: false, env: { TMPDIR: dir.path } });
      assert.equal(r.exitCode, 0, r.stdout + r.stderr);
      return r.stdout + r.stderr;
    };
    const cat = async (p: string) => (await exec('debugfs', ['-R', `cat ${p}`, image])).stdout;
    await build();
    assert.equal(await cat('/etc/motd'), 'version A');
    assert.match(await build(), /cache hit/, 'an unchanged tree takes the cached base image');
    await exec('cp', ['-p', motd, join(dir.path, 'motd.ref')]);
    await writeFile(motd, 'version B\n');
    await exec('touch', ['-r', join(dir.path, 'motd.ref'), motd]);
    assert.doesNotMatch(await build(), /cache hit/);
    assert.equal(await cat('/etc/motd'), 'version B', 'the new content is in the image');
    assert.equal(await cat('/etc/hostname'), 'fromdir1');
  });
});

describe('image sizes the output filesystem cannot hold', function () {
  this.timeout(120000);
  let dir: TempDir;
  const mounted: string[] = [];
  before(async function () {
    await requireRootWith(this, 'mkfs.ext4', 'mkfs.ext2');
    dir = await tempDir('umlbuild-size-', '/var/tmp');
  });
  after(async () => {
    for (const m of mounted) await exec('umount', [m], { reject: false });
    await dir?.remove();
  });

  /** A small filesystem made by `mkfs` (argv) mounted at dir/NAME: the --out of a build. */
  async function outFs(name: string, mkfs: string[]): Promise<string> {
    const image = join(dir.path, `${name}.fs`);
    await exec('truncate', ['-s', '32M', image]);
    await exec(mkfs[0]!, [...mkfs.slice(1), '-q', image]);
    const mnt = join(dir.path, name);
    await exec('mkdir', [mnt]);
    await exec('mount', ['-o', 'loop', image, mnt]);
    mounted.push(mnt);
    return mnt;
  }

  const recipe = (size: string) =>
    dir.write(
      `huge-${size}.yml`,
      `name: huge
steps:
  - step: sparse-disk
    size: ${size}
  - step: mkfs
`,
    );

  it('size: 100T on ext4 (at most 16 TiB a file): exit 2 naming the size key with file:line:col, nothing created', async () => {
    const out = await outFs('ext4', ['mkfs.ext4', '-b', '4096']);
    const file = await recipe('100T');
    const r = await exec(BIN, [file, '--out', join(out, 'images'), '--renderer', 'simple'], { reject: false });
    assert.equal(r.exitCode, 2, r.stdout + r.stderr);
    assert.match(r.stderr, /huge-100T\.yml:4:11: steps\[0\]\.size: size 100T is larger than the largest file the output filesystem can hold \(ext4 .*at most 16T\)/);
    assert.doesNotMatch(r.stderr, /EFBIG|\n\s+at /);
    assert.deepEqual(
      (await exec('ls', ['-A', out])).stdout.split('\n').filter((l) => l && l !== 'lost+found'),
      [],
      'nothing created',
    );
  });

  it('an EFBIG the check does not foresee (ext2 with 1 KiB blocks, no extents) names the step and its size', async () => {
    const out = await outFs('ext2', ['mkfs.ext2', '-b', '1024']);
    const file = await recipe('100G');
    const r = await exec(BIN, [file, '--out', out, '--renderer', 'simple'], { reject: false, env: { TMPDIR: dir.path } });
    assert.equal(r.exitCode, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /the size of steps\[0\] sparse-disk \(100G; \S*huge-100G\.yml:3\) is larger than the output filesystem \(\S+\) allows for one file/);
    assert.deepEqual(
      (await exec('ls', ['-A', out])).stdout.split('\n').filter((l) => l && l !== 'lost+found'),
      [],
      'the partial image is removed',
    );
  });
});
