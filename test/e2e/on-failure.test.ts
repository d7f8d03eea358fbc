/**
 * `--on-failure shell|keep`, the way a person uses them: bin/umlbuild in a
 * pseudo-terminal with the default (interactive) renderer, a small busybox
 * root (a directory-first one and a mounted image), a run step in the chroot
 * that fails. Journals and temporary trees are scoped to the test's
 * directory (UMLBUILD_JOURNAL_DIR, TMPDIR), and so are the leftover checks.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { exec } from '../../src/host/exec.js';
import { BIN, tempDir, type TempDir } from '../helpers.js';
import { killLeftovers, loopsFor, requireRootWith } from './host-state.js';
import { leftovers, runInPty, tail, type PtyRun } from './pty.js';

const COPY_BUSYBOX = `    command: |
      set -e
      cd "$ROOTFS"
      mkdir -p bin sbin usr/bin usr/sbin etc
      cp "$(command -v busybox)" bin/busybox
      for applet in $(bin/busybox --list-full); do [ -e "$applet" ] || ln -s /bin/busybox "$applet"; done
      echo half-built-marker > etc/onfail-marker`;

const FAIL = `  - step: run
    command: echo about to fail; exit 7`;

/** Directory-first: the tree in $TMPDIR, packed at the end (never reached). */
const directoryRecipe = `name: tiny
steps:
  - step: directory
  - step: run
    chroot: false
${COPY_BUSYBOX}
${FAIL}
  - step: pack
    size: 64M
`;

/** A mounted image: sparse file, ext4, loop device, mount. */
const imageRecipe = `name: tiny
steps:
  - step: sparse-disk
    size: 64M
  - step: mkfs
  - step: mount
  - step: run
    chroot: false
${COPY_BUSYBOX}
${FAIL}
  - step: unmount
`;

const PROMPT = /\(umlbuild: failed build\) # /;

/** The first group of `re` in `text`, or a failure showing the text. */
function group(re: RegExp, text: string, n = 1): string {
  const m = re.exec(text);
  assert.ok(m?.[n], `no ${re} in:\n${tail(text, 40)}`);
  return m[n]!;
}

describe('--on-failure: look inside a failed build', function () {
  this.timeout(300000);
  let dir: TempDir;
  let journals: string;
  let tmp: string;
  let out: string;
  let env: Record<string, string>;
  const runs: PtyRun[] = [];
  before(async function () {
    await requireRootWith(this, 'busybox');
  });
  beforeEach(async () => {
    dir = await tempDir('umlbuild-onfail-', '/var/tmp');
    journals = join(dir.path, 'journals');
    tmp = join(dir.path, 'tmp');
    out = join(dir.path, 'out');
    await mkdir(journals, { mode: 0o700 });
    await mkdir(tmp);
    env = { UMLBUILD_JOURNAL_DIR: journals, TMPDIR: tmp };
  });
  afterEach(async () => {
    // Whatever a failed test left: its build and shell, its journals, then anything mounted or attached below its directory.
    for (const r of runs.splice(0)) r.kill();
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

  const pty = (args: string[]) => {
    const r = runInPty(BIN, args, { env, cols: 200 });
    runs.push(r);
    return r;
  };
  const mountsUnder = (path: string) =>
    readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .map((l) => l.split(' ')[4] ?? '')
      .filter((m) => m === path || m.startsWith(`${path}/`));
  /** umlbuild's temporary trees and files in the test's TMPDIR (tsx keeps its cache there too). */
  const umlbuildTemps = async () => (await readdir(tmp)).filter((f) => f.startsWith('umlbuild-'));
  /** Nothing of this test's builds left: no mount, loop device, tree, journal or output file. */
  const nothingLeft = async (pid: number) => {
    assert.deepEqual(await leftovers(pid, journals, dir.path), [], 'no mount, loop device or journal');
    assert.deepEqual(await umlbuildTemps(), [], 'no temporary tree');
    assert.deepEqual(existsSync(out) ? await readdir(out) : [], [], 'no partial output, no lock');
  };

  for (const [kind, recipe, failing] of [
    ['a directory-first tree', directoryRecipe, 'step 3/4'],
    ['a mounted image', imageRecipe, 'step 5/6'],
  ] as const) {
    it(`--on-failure shell (${kind}): a shell in the chroot of the half-built root, mounts intact; exit tears the build down and exits 1`, async () => {
      const file = await dir.write('r.yml', recipe);
      const r = pty([file, '--out', out, '--on-failure', 'shell']);
      const banner = await r.waitFor(/Exiting the shell \(exit or Ctrl-D\) tears the build down\./, 120000);
      const text = r.text();
      assert.match(text, new RegExp(`${failing.replace('/', '\\/')} \\(Run echo about to fail; exit 7\\) failed\\. --on-failure shell: a shell in the chroot of the half-built root (\\S+) \\(/proc, /sys, /dev and /dev/pts mounted`));
      const root = /a shell in the chroot of the half-built root (\S+) \(/.exec(text)![1]!;
      assert.ok(root.startsWith(`${tmp}/umlbuild-`), root);
      const from = banner.index!;
      await r.waitFor(PROMPT, 20000, from);
      // While the shell runs: the root and its chroot mounts are there, and journaled.
      assert.ok(mountsUnder(root).includes(`${root}/proc`), `proc mounted in ${root}: ${mountsUnder(root).join(', ')}`);
      assert.match(
        readdirSync(journals)
          .map((f) => readFileSync(join(journals, f), 'utf8'))
          .join('\n'),
        new RegExp(`"path": "${root}/proc"`),
      );
      // The half-built tree, seen from inside: the file the earlier step wrote, / and /proc.
      r.type('cat /etc/onfail-marker; ls /; test -r /proc/self/status && echo proc-$((6*7))\r');
      await r.waitFor(/half-built-marker/, 20000, from);
      await r.waitFor(/proc-42/, 20000, from);
      assert.match(r.text().slice(from), /\bsbin\b/);
      // Ctrl-C belongs to the shell: the build goes on waiting.
      r.ctrlC();
      r.type('echo still-$((1+1))\r');
      await r.waitFor(/still-2/, 20000, from);
      assert.ok(existsSync(root), 'Ctrl-C in the shell tore nothing down');
      r.type('exit\r');
      assert.equal(await r.exited(60000), 1, tail(r.text(), 40));
      assert.match(r.text(), /the shell exited: tearing the build down/);
      assert.match(r.text(), /command failed \(exit code 7\)/);
      assert.doesNotMatch(r.text(), /^\s+at /m, 'no stack trace');
      assert.equal(existsSync(root), false, 'the root is gone');
      assert.deepEqual(mountsUnder(root), []);
      await nothingLeft(r.pid);
    });
  }

  it('--on-failure shell: SIGTERM to umlbuild while the shell runs ends the shell and tears down, exit 143', async () => {
    const file = await dir.write('r.yml', directoryRecipe);
    const r = pty([file, '--out', out, '--on-failure', 'shell']);
    const banner = await r.waitFor(/Exiting the shell \(exit or Ctrl-D\) tears the build down\./, 120000);
    await r.waitFor(PROMPT, 20000, banner.index);
    process.kill(r.pid, 'SIGTERM');
    assert.equal(await r.exited(30000), 143, tail(r.text(), 40));
    assert.match(r.text(), /interrupted by SIGTERM/);
    await nothingLeft(r.pid);
  });

  it("--on-failure shell, a root with no /bin/sh yet: the host's shell in the root's directory, said so; exit tears down", async () => {
    const file = await dir.write(
      'r.yml',
      `name: tiny
steps:
  - step: directory
  - step: run
    chroot: false
    command: mkdir -p "$ROOTFS/etc" && echo half-built-marker > "$ROOTFS/etc/onfail-marker"
${FAIL}
  - step: pack
    size: 64M
`,
    );
    const r = pty([file, '--out', out, '--on-failure', 'shell']);
    const banner = await r.waitFor(/Exiting the shell \(exit or Ctrl-D\) tears the build down\./, 120000);
    const root = group(
      /step 3\/4 \(Run echo about to fail; exit 7\) failed\. --on-failure shell: the half-built root (\S+) has no \/bin\/sh to chroot into yet, so this is a shell ON THE HOST, in the root's directory \(\$ROOTFS\)\./,
      r.text(),
    );
    r.type('cat etc/onfail-marker; [ "$PWD" = "$ROOTFS" ] && echo in-root-$((6*7))\r');
    await r.waitFor(/half-built-marker/, 20000, banner.index);
    await r.waitFor(/in-root-42/, 20000, banner.index);
    r.type('exit\r');
    assert.equal(await r.exited(60000), 1, tail(r.text(), 40));
    assert.equal(existsSync(root), false);
    await nothingLeft(r.pid);
  });

  it('--on-failure shell, a failure before any root existed: no shell, said so; torn down, exit 1', async () => {
    const file = await dir.write('r.yml', 'name: tiny\nsteps:\n  - step: sparse-disk\n    size: 16M\n  - step: fail\n    message: no root yet\n  - step: mkfs\n');
    const r = pty([file, '--out', out, '--on-failure', 'shell']);
    assert.equal(await r.exited(120000), 1, tail(r.text(), 40));
    assert.match(r.text(), /step 2\/3 \(Fail\) failed before there was a root tree: no shell to open \(--on-failure shell\); tearing the build down/);
    await nothingLeft(r.pid);
  });

  it('--on-failure keep (a directory-first tree): the tree stays, its path printed with `umlbuild cleanup`, exit 1; the next build leaves it; cleanup releases it, never through a link in it', async () => {
    const file = await dir.write('r.yml', directoryRecipe);
    const r = pty([file, '--out', out, '--on-failure', 'keep']);
    assert.equal(await r.exited(120000), 1, tail(r.text(), 40));
    const text = r.text();
    assert.match(text, /step 3\/4 \(Run echo about to fail; exit 7\) failed; --on-failure keep: left in place for inspection:/);
    assert.match(text, /`umlbuild cleanup` releases them \(journal \S+\.json\)\./);
    const tree = group(/^ {2}tree (\S+)$/m, text);
    assert.ok(tree.startsWith(`${tmp}/umlbuild-tree-`), text);
    assert.equal(await readFile(join(tree, 'etc', 'onfail-marker'), 'utf8'), 'half-built-marker\n');
    const [journal] = await readdir(journals);
    assert.equal(JSON.parse(await readFile(join(journals, journal!), 'utf8')).kept, true);
    assert.deepEqual(await readdir(out), [], 'no lock left: only the tree is kept');

    // The next build does not release it (it is kept for a person), and says so.
    const next = await exec(BIN, [file, '--out', out, '--renderer', 'simple'], { reject: false, env });
    assert.equal(next.exitCode, 1, next.stderr);
    assert.match(next.stderr, new RegExp(`note: a build that failed \\(pid ${r.pid}, started \\S+\\) kept ${tree}(, \\S+)* for inspection: \`umlbuild cleanup\` releases it`));
    assert.ok(existsSync(join(tree, 'etc', 'onfail-marker')));

    // Someone inspecting it left a link to a stand-in victim in it: cleanup removes the link, not what it points to.
    const victims = join(dir.path, 'victims');
    await mkdir(victims);
    await writeFile(join(victims, 'precious'), 'precious\n');
    await symlink(victims, join(tree, 'etc', 'victims-link'));
    const c = await exec(BIN, ['cleanup'], { reject: false, env });
    assert.equal(c.exitCode, 0, c.stdout + c.stderr);
    assert.match(c.stdout, new RegExp(`^removed ${tree} \\(left by pid ${r.pid}`, 'm'));
    assert.equal(existsSync(tree), false);
    assert.equal(await readFile(join(victims, 'precious'), 'utf8'), 'precious\n');
    await rm(victims, { recursive: true });
    await nothingLeft(r.pid);
  });

  it('--on-failure keep (a mounted image): the partial image, its loop device and mount stay; umlbuild cleanup releases them all', async () => {
    const file = await dir.write('r.yml', imageRecipe);
    const r = pty([file, '--out', out, '--on-failure', 'keep']);
    assert.equal(await r.exited(120000), 1, tail(r.text(), 40));
    const text = r.text();
    assert.match(text, /step 5\/6 \(Run echo about to fail; exit 7\) failed; --on-failure keep: left in place for inspection:/);
    const image = group(/^ {2}file (\S+)$/m, text);
    const mount = group(/^ {2}mount (\S+)$/m, text);
    const loop = group(/^ {2}loop device (\/dev\/loop\d+) \(backed by \S+\)$/m, text);
    assert.match(text, new RegExp(`^ {2}loop device ${loop} \\(backed by ${image}\\)$`, 'm'));
    assert.ok(image.startsWith(join(out, '.tiny.img.partial-')), text);
    assert.ok(mount.startsWith(`${tmp}/umlbuild-root-`), text);
    assert.ok(existsSync(image));
    assert.deepEqual(mountsUnder(mount), [mount], 'the image is still mounted (the run step released its /proc and /dev)');
    assert.equal(await readFile(join(mount, 'etc', 'onfail-marker'), 'utf8'), 'half-built-marker\n');
    assert.equal((await loopsFor(image)).length, 1, 'its loop device is still attached');

    const c = await exec(BIN, ['cleanup'], { reject: false, env });
    assert.equal(c.exitCode, 0, c.stdout + c.stderr);
    assert.match(c.stdout, new RegExp(`^unmounted ${mount} \\(left by pid ${r.pid}`, 'm'));
    assert.match(c.stdout, new RegExp(`^detached ${loop} \\(${image}\\)`, 'm'));
    assert.match(c.stdout, new RegExp(`^removed ${image} \\(left by`, 'm'));
    assert.deepEqual(mountsUnder(mount), []);
    assert.equal(existsSync(mount), false);
    await nothingLeft(r.pid);
  });

  it('a kept tree swapped for a link to a stand-in victim directory: cleanup leaves the victim alone and says why', async () => {
    const file = await dir.write('r.yml', directoryRecipe);
    const r = pty([file, '--out', out, '--on-failure', 'keep']);
    assert.equal(await r.exited(120000), 1, tail(r.text(), 40));
    const tree = group(/^ {2}tree (\S+)$/m, r.text());
    const victims = join(dir.path, 'victims');
    await mkdir(victims);
    await writeFile(join(victims, 'precious'), 'precious\n');
    await rename(tree, join(dir.path, 'moved-tree'));
    await symlink(victims, tree);
    const c = await exec(BIN, ['cleanup'], { reject: false, env });
    assert.equal(c.exitCode, 1, c.stdout + c.stderr);
    assert.match(c.stderr, new RegExp(`left alone \\{"kind":"tree","path":"${tree}","id":\\d+\\}: it is a symbolic link`));
    assert.equal(await readFile(join(victims, 'precious'), 'utf8'), 'precious\n');
    assert.ok(existsSync(tree), 'the link itself is left for a person to look at');
    // Tidy up by hand what cleanup rightly refused.
    await rm(tree);
    await rm(join(dir.path, 'moved-tree'), { recursive: true });
    await rm(journals, { recursive: true });
    await mkdir(journals, { mode: 0o700 });
  });

  it('--on-failure shell without a terminal: refused at the start, exit 2, nothing made', async () => {
    const file = await dir.write('r.yml', directoryRecipe);
    const r = await exec(BIN, [file, '--out', out, '--on-failure', 'shell'], { reject: false, env });
    assert.equal(r.exitCode, 2, r.stdout + r.stderr);
    assert.match(r.stderr, /^umlbuild: --on-failure shell opens an interactive shell and needs a terminal, but stdin is not one: run it at a terminal, or use --on-failure keep and look inside afterwards$/m);
    assert.doesNotMatch(r.stderr, /^\s+at /m);
    assert.equal(existsSync(out), false);
    assert.deepEqual(await umlbuildTemps(), []);
    assert.deepEqual(await readdir(journals), []);
  });
});
