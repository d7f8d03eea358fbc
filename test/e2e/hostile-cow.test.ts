/**
 * Hostile COW files, run through bin/umlbuild as a user would: a COW header
 * is untrusted input naming any backing file. merge and verify-cow must not
 * write into, create, widen or re-date anything but an image umlbuild built,
 * must check everything before doing anything, and must never block on a
 * FIFO. Stand-in victim files live in the test's temp dir; images are a few
 * KiB of bytes (merge does not care what is in them) with a manifest as
 * umlbuild writes one.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, lstat, mkdir, readFile, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { exec, type ExecResult } from '../../src/host/exec.js';
import { fakeManifest, forgeCowOver } from '../cow-forge.js';
import { BIN, tempDir, type TempDir } from '../helpers.js';

const run = (args: string[], timeoutMs = 60_000): Promise<ExecResult> => exec(BIN, args, { reject: false, timeoutMs });
const sha = async (f: string) =>
  createHash('sha256')
    .update(await readFile(f))
    .digest('hex');
const OLD = new Date('2024-01-02T03:04:05Z');

/** A file with its content and mtime, to compare after. */
async function fingerprint(f: string): Promise<string> {
  const st = await stat(f);
  return `${await sha(f)} ${st.mtimeMs} ${(st.mode & 0o7777).toString(8)}`;
}

function assertCleanRefusal(r: ExecResult, pattern: RegExp, code = 2): void {
  assert.equal(r.exitCode, code, `${r.stdout}\n${r.stderr}`);
  assert.match(r.stderr, pattern);
  assert.doesNotMatch(r.stderr, /internal error|\n\s+at /, 'no stack trace');
}

describe('hostile COW files: merge and verify-cow', function () {
  this.timeout(120_000);
  let dir: TempDir;
  let n = 0;
  /** A fresh subdirectory with a victim file (not built by umlbuild) and an umlbuild-built base image. */
  let t: { d: string; victim: string; base: string; manifest: string };

  beforeEach(async () => {
    dir ??= await tempDir('umlbuild-hostile-cow-');
    const d = join(dir.path, `case${n++}`);
    await mkdir(join(d, 'victims'), { recursive: true });
    t = { d, victim: join(d, 'victims/victim.img'), base: join(d, 'base.img'), manifest: join(d, 'base.manifest.json') };
    await writeFile(t.victim, Buffer.alloc(64 * 1024, 'V'));
    await writeFile(t.base, Buffer.alloc(64 * 1024, 'B'));
    for (const f of [t.victim, t.base]) await utimes(f, OLD, OLD);
    await fakeManifest(t.base, t.manifest, ['child.cow']);
  });
  after(async () => {
    await dir?.remove();
  });

  it('merge --in-place refuses a COW whose header names a file umlbuild did not build, and writes nothing', async () => {
    const before = await fingerprint(t.victim);
    const evil = join(t.d, 'evil.cow');
    await forgeCowOver(evil, t.victim, { 0: 'PWNED' });
    const r = await run(['merge', '--in-place', evil]);
    assertCleanRefusal(r, /victim\.img, the backing file named in \S+evil\.cow, has no umlbuild manifest beside it: not an image umlbuild built; refused/);
    assert.equal(await fingerprint(t.victim), before, 'the victim was not written');
    assert.ok(existsSync(evil), 'the COW file is still there');
  });

  it('merge --in-place refuses a COW that the base manifest does not record as its child', async () => {
    const before = await fingerprint(t.base);
    const stray = join(t.d, 'stray.cow');
    await forgeCowOver(stray, t.base, { 0: 'PWNED' });
    const r = await run(['merge', '--in-place', stray]);
    assertCleanRefusal(r, /stray\.cow is not recorded as a COW child of \S+base\.img in base\.manifest\.json: refusing to merge it in place/);
    assert.equal(await fingerprint(t.base), before);
    assert.ok(existsSync(stray));
  });

  it('merge refuses a backing path that is a symbolic link (to a file, or dangling) and creates nothing', async () => {
    const link = join(t.d, 'link.img');
    await symlink(t.victim, link);
    await fakeManifest(t.victim, join(t.d, 'link.manifest.json'));
    await writeFile(join(t.d, 'link.manifest.json'), (await readFile(join(t.d, 'link.manifest.json'), 'utf8')).replace('"victim.img"', '"link.img"'));
    await forgeCowOver(join(t.d, 'a.cow'), link);
    const r = await run(['merge', join(t.d, 'a.cow'), join(t.d, 'a-merged.img')]);
    assertCleanRefusal(r, /link\.img is a symbolic link, not a regular file: refused/);
    assert.ok(!existsSync(join(t.d, 'a-merged.img')));

    const dangling = join(t.d, 'dangling.img');
    const created = join(t.d, 'victims/created-by-merge');
    await forgeCowOver(join(t.d, 'b.cow'), t.base);
    const cow = await readFile(join(t.d, 'b.cow'));
    cow.fill(0, 32, 32 + 4096).write(dangling, 32);
    await writeFile(join(t.d, 'b.cow'), cow);
    await symlink(created, dangling);
    const r2 = await run(['merge', join(t.d, 'b.cow'), join(t.d, 'b-merged.img')]);
    assertCleanRefusal(r2, /dangling\.img is a symbolic link, not a regular file: refused/);
    assert.ok(!existsSync(created), 'nothing created through the link');
  });

  it('merge refuses a COW file that is a symbolic link', async () => {
    await forgeCowOver(join(t.d, 'child.cow'), t.base);
    await symlink(join(t.d, 'child.cow'), join(t.d, 'link.cow'));
    const r = await run(['merge', join(t.d, 'link.cow'), join(t.d, 'out.img')]);
    assertCleanRefusal(r, /COW file \S+link\.cow is a symbolic link, not a regular file: refused/);
    assert.ok(!existsSync(join(t.d, 'out.img')));
  });

  it('merge does not follow a dangling symbolic link at the output path', async () => {
    await forgeCowOver(join(t.d, 'child.cow'), t.base, { 1: 'CHILD' });
    const created = join(t.d, 'victims/created-by-merge');
    const out = join(t.d, 'out.img');
    await symlink(created, out);
    const r = await run(['merge', join(t.d, 'child.cow'), out]);
    assertCleanRefusal(r, /out\.img exists \(or is a link\); choose another name/);
    assert.ok(!existsSync(created), 'nothing created through the link');
    assert.ok((await lstat(out)).isSymbolicLink());
  });

  it('merge of a COW over a 0600 base writes a merged image no more readable than 0600, with the COW data in it', async () => {
    await chmod(t.base, 0o600);
    await forgeCowOver(join(t.d, 'child.cow'), t.base, { 1: 'CHILD' }, 0o644);
    const out = join(t.d, 'merged.img');
    const r = await run(['merge', join(t.d, 'child.cow'), out]);
    assert.equal(r.exitCode, 0, r.stdout + r.stderr);
    assert.equal((await stat(out)).mode & 0o777 & ~0o600, 0, `mode ${((await stat(out)).mode & 0o777).toString(8)}`);
    const merged = await readFile(out);
    assert.equal(merged.subarray(512, 517).toString(), 'CHILD');
    assert.equal(merged[0], 'B'.charCodeAt(0));
    assert.equal(merged.length, 64 * 1024);
  });

  it('merge --in-place of a recorded child merges it, removes it and updates the manifest', async () => {
    const cow = join(t.d, 'child.cow');
    await forgeCowOver(cow, t.base, { 2: 'INPLACE' });
    const r = await run(['merge', '--in-place', cow]);
    assert.equal(r.exitCode, 0, r.stdout + r.stderr);
    assert.equal((await readFile(t.base)).subarray(1024, 1031).toString(), 'INPLACE');
    assert.ok(!existsSync(cow));
    const m = JSON.parse(await readFile(t.manifest, 'utf8'));
    assert.equal(m.image.sha256, await sha(t.base));
    assert.deepEqual(m.variants, []);
  });

  it('a malformed manifest beside the base is a clear error (exit 2) naming it, before anything is merged or deleted', async () => {
    const cow = join(t.d, 'child.cow');
    await forgeCowOver(cow, t.base, { 0: 'MERGED' });
    await writeFile(t.manifest, '{ "image": { "file": "base.img", ');
    const before = await fingerprint(t.base);
    const r = await run(['merge', '--in-place', cow]);
    assertCleanRefusal(r, /base\.manifest\.json: malformed umlbuild manifest/);
    assert.equal(await fingerprint(t.base), before, 'the base was not merged into');
    assert.ok(existsSync(cow), 'the COW file was not deleted');
    await writeFile(t.manifest, JSON.stringify({ image: { file: 'base.img', sha256: 42 } }));
    assertCleanRefusal(await run(['merge', '--in-place', cow]), /base\.manifest\.json: malformed umlbuild manifest: image\.sha256 is not a sha256 checksum/);
    assert.equal(await fingerprint(t.base), before);
  });

  it('verify-cow --fix-mtime does not follow a symbolic link as the base (the link target keeps its mtime)', async () => {
    const link = join(t.d, 'link.img');
    await symlink(t.victim, link);
    await fakeManifest(t.victim, join(t.d, 'link.manifest.json'));
    await writeFile(join(t.d, 'link.manifest.json'), (await readFile(join(t.d, 'link.manifest.json'), 'utf8')).replace('"victim.img"', '"link.img"'));
    await forgeCowOver(join(t.d, 'a.cow'), link);
    const cow = await readFile(join(t.d, 'a.cow'));
    cow.writeUInt32BE(Math.floor(Date.now() / 1000), 8);
    await writeFile(join(t.d, 'a.cow'), cow);
    const before = await fingerprint(t.victim);
    const r = await run(['verify-cow', '--fix-mtime', join(t.d, 'a.cow')]);
    assert.equal(r.exitCode, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /BROKEN \S+a\.cow: its backing file \S+link\.img is a symbolic link, not a regular file \(refused\)/);
    assert.equal(await fingerprint(t.victim), before, 'the victim keeps its mtime');
  });

  it('verify-cow --fix-mtime restores the mtime of an umlbuild base whose content is unchanged', async () => {
    await forgeCowOver(join(t.d, 'child.cow'), t.base);
    await utimes(t.base, new Date(), new Date());
    const r = await run(['verify-cow', '--fix-mtime', t.d]);
    assert.equal(r.exitCode, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /content matches base\.manifest\.json; restored its mtime/);
    assert.equal((await stat(t.base)).mtimeMs, OLD.getTime());
  });

  it('a FIFO named *.cow neither hangs verify-cow nor merge', async () => {
    await forgeCowOver(join(t.d, 'child.cow'), t.base);
    await exec('mkfifo', [join(t.d, 'fifo.cow')]);
    const r = await run(['verify-cow', t.d], 20_000);
    assert.equal(r.exitCode, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /^ok {5}\S+child\.cow/m);
    assert.match(r.stdout, /^BROKEN \S+fifo\.cow: \S+fifo\.cow is a FIFO, not a COW file/m);
    assertCleanRefusal(await run(['merge', join(t.d, 'fifo.cow'), join(t.d, 'out.img')], 20_000), /COW file \S+fifo\.cow is a FIFO, not a regular file: refused/);
    assert.ok(!existsSync(join(t.d, 'out.img')));
  });
});

describe('hostile COW files: a tiny real build (mkfs.ext4 -d) and its output directory', function () {
  this.timeout(180_000);
  let dir: TempDir;
  let recipe: string;
  let out: string;
  const build = (timeoutMs = 90_000) => run([recipe, '--out', out, '--renderer', 'simple'], timeoutMs);

  before(async () => {
    dir = await tempDir('umlbuild-hostile-cow-build-');
    out = join(dir.path, 'out');
    recipe = await dir.write(
      'tiny.yml',
      ['name: tiny', 'output: tiny', 'tune: none', 'steps:', '  - step: directory', '  - step: run', '    chroot: false', '    command: mkdir -p "$ROOTFS/etc" && echo hi > "$ROOTFS/etc/hi"', '  - step: pack', '    size: 8M', ''].join('\n'),
    );
    const r = await build();
    assert.equal(r.exitCode, 0, r.stdout + r.stderr);
  });
  after(async () => {
    await dir?.remove();
  });

  it('a FIFO named *.cow in the output directory does not hang a rebuild', async () => {
    await exec('mkfifo', [join(out, 'stuck.cow')]);
    const r = await build(60_000);
    assert.equal(r.exitCode, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /built \S+tiny\.img/);
    assert.ok((await lstat(join(out, 'stuck.cow'))).isFIFO(), 'the FIFO is left alone');
  });

  it('a real COW child (uml_mkcow) of the built image: merge accepts it, a rebuild refuses to replace the base', async () => {
    const image = join(out, 'tiny.img');
    await exec('uml_mkcow', [join(out, 'child.cow'), image]);
    const m = await run(['merge', join(out, 'child.cow'), join(out, 'merged.img')]);
    assert.equal(m.exitCode, 0, m.stdout + m.stderr);
    assert.equal(await sha(join(out, 'merged.img')), await sha(image), 'an empty COW merges to a copy of the base');
    const r = await build();
    assertCleanRefusal(r, /refusing to replace \S+tiny\.img: COW files depend on it \(child\.cow\)/);
    // Not a variant the manifest records: no in-place merge, even over a real umlbuild image.
    assertCleanRefusal(await run(['merge', '--in-place', join(out, 'child.cow')]), /child\.cow is not recorded as a COW child of \S+tiny\.img in tiny\.manifest\.json/);
    const before = (await stat(image)).mtimeMs;
    await utimes(image, new Date(), new Date());
    const broken = await run(['verify-cow', out]);
    assert.equal(broken.exitCode, 1, broken.stdout);
    assert.match(broken.stdout, /^BROKEN \S+child\.cow: mtime mismatch/m);
    const fixed = await run(['verify-cow', '--fix-mtime', out]);
    assert.equal(fixed.exitCode, 1, 'stuck.cow, a FIFO, is still reported');
    assert.match(fixed.stdout, /content matches tiny\.manifest\.json; restored its mtime/);
    assert.match(fixed.stdout, /^ok {5}\S+child\.cow/m);
    assert.equal(Math.floor((await stat(image)).mtimeMs / 1000), Math.floor(before / 1000));
  });
});
