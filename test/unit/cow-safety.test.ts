/**
 * COW headers are untrusted input (no root needed here): the header format
 * round trip, and the checks merge/verify-cow and the build make before they
 * touch the file a header names. Stand-in victims live in the test's temp dir.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { open, readFile, rename, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { EXIT, UserError } from '../../src/errors.js';
import { exec } from '../../src/host/exec.js';
import { createNewFile, openRegularFile } from '../../src/host/pinned-file.js';
import { BaseRefused, checkBase, manifestFor } from '../../src/uml/cow-base.js';
import { checkCow, cowChildren, formatCowHeader, parseCowHeader, readCowHeader } from '../../src/uml/cow.js';
import { fakeManifest, forgeCow, forgeCowOver } from '../cow-forge.js';
import { rejection, tempDir, type TempDir } from '../helpers.js';

/** Fails (instead of hanging the suite) when `p` takes longer than `ms`. */
const within = <T>(p: Promise<T>, ms = 3000): Promise<T> => Promise.race([p, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`still blocked after ${ms} ms`)), ms).unref())]);

const fifos: string[] = [];
/** A FIFO, unblocked after the test (O_RDWR never blocks), so a regression fails a test instead of hanging the suite. */
async function mkfifo(path: string): Promise<void> {
  await exec('mkfifo', [path]);
  fifos.push(path);
}

describe('COW safety', () => {
  let dir: TempDir;
  beforeEach(async () => {
    dir = await tempDir('umlbuild-cow-safety-');
  });
  afterEach(async () => {
    for (const f of fifos.splice(0)) await (await open(f, 'r+')).close();
    await dir.remove();
  });

  describe('header', () => {
    it('formatCowHeader and parseCowHeader round-trip, byte for byte with an independently forged header', () => {
      const h = { backingFile: '/var/tmp/out/base.img', mtime: 1_700_000_000, size: 2n ** 31n };
      const buf = formatCowHeader(h);
      const parsed = parseCowHeader(buf)!;
      assert.deepEqual({ backingFile: parsed.backingFile, mtime: parsed.mtime, size: parsed.size, sectorSize: parsed.sectorSize, alignment: parsed.alignment, format: parsed.format }, { ...h, sectorSize: 512, alignment: 4096, format: 0 });
      assert.equal(parsed.bitmapOffset, 8192);
      assert.equal(parsed.dataOffset, 8192 + 2 ** 31 / 512 / 8);
      assert.deepEqual(forgeCow({ ...h, size: 4096 }).subarray(0, 4128), formatCowHeader({ ...h, size: 4096n }));
      assert.equal(parseCowHeader(Buffer.alloc(4128)), undefined, 'no magic');
      assert.equal(parseCowHeader(formatCowHeader({ ...h, sectorSize: 0 })), undefined, 'sector size 0');
      assert.equal(parseCowHeader(formatCowHeader({ ...h, alignment: 0 })), undefined, 'alignment 0');
      assert.throws(() => formatCowHeader({ ...h, backingFile: 'x'.repeat(4096) }), /too long/);
    });

    it('readCowHeader never opens a FIFO or follows a link', async () => {
      const fifo = join(dir.path, 'fifo.cow');
      await mkfifo(fifo);
      assert.equal(await within(readCowHeader(fifo)), undefined);
      await writeFile(join(dir.path, 'real.cow'), forgeCow({ backingFile: '/x', mtime: 1, size: 512 }));
      await symlink(join(dir.path, 'real.cow'), join(dir.path, 'link.cow'));
      assert.equal((await readCowHeader(join(dir.path, 'real.cow')))?.backingFile, '/x');
      assert.equal(await readCowHeader(join(dir.path, 'link.cow')), undefined);
    });
  });

  it('cowChildren (the build check before replacing a base) skips a FIFO named *.cow instead of blocking', async () => {
    const base = await dir.write('base.img', 'B'.repeat(4096));
    await mkfifo(join(dir.path, 'a-fifo.cow'));
    await forgeCowOver(join(dir.path, 'child.cow'), base);
    assert.deepEqual(await within(cowChildren(base, dir.path)), [join(dir.path, 'child.cow')]);
  });

  it('checkCow refuses a backing file that is a symbolic link, and reports a FIFO COW file', async () => {
    const victim = await dir.write('victim', 'V'.repeat(4096));
    await symlink(victim, join(dir.path, 'link.img'));
    await forgeCowOver(join(dir.path, 'a.cow'), join(dir.path, 'link.img'));
    assert.match((await checkCow(join(dir.path, 'a.cow'))).problem ?? '', /link\.img is a symbolic link, not a regular file \(refused\)/);
    await mkfifo(join(dir.path, 'f.cow'));
    assert.match((await within(checkCow(join(dir.path, 'f.cow')))).problem ?? '', /f\.cow is a FIFO, not a COW file/);
  });

  describe('manifests beside the base', () => {
    it('a malformed one is a UserError (exit 2) naming the file', async () => {
      await dir.write('base.img', 'B');
      const m = await dir.write('base.manifest.json', '{ "image": ');
      const e = await rejection<UserError>(manifestFor(dir.path, 'base.img'));
      assert.ok(e instanceof UserError && e.exitCode === EXIT.invalid);
      assert.match(e.message, new RegExp(`^${m}: malformed umlbuild manifest: `));
      await writeFile(m, JSON.stringify({ image: { file: 'base.img' }, variants: 'web1.cow' }));
      assert.match((await rejection(manifestFor(dir.path, 'base.img'))).message, /variants must be a list/);
      await writeFile(m, '[]');
      assert.match((await rejection(manifestFor(dir.path, 'base.img'))).message, /not a JSON object/);
    });

    it('a FIFO or a link named *.manifest.json is refused, not opened', async () => {
      await mkfifo(join(dir.path, 'base.manifest.json'));
      const e = await rejection<UserError>(within(manifestFor(dir.path, 'base.img')));
      assert.match(e.message, /manifest \S+base\.manifest\.json is a FIFO, not a regular file: refused/);
      assert.equal(e.exitCode, EXIT.invalid);
    });
  });

  describe('checkBase: the file a COW header names', () => {
    it('refuses a file without an umlbuild manifest, one whose content changed, and (in place) an unrecorded child', async () => {
      const victim = await dir.write('victims/victim', 'V'.repeat(4096));
      const header = (backingFile: string, size = 4096) => parseCowHeader(formatCowHeader({ backingFile, mtime: 0, size: BigInt(size) }))!;
      const cow = join(dir.path, 'x.cow');
      assert.ok((await rejection(checkBase(header(victim), cow, false))) instanceof BaseRefused);
      const base = await dir.write('base.img', 'B'.repeat(4096));
      await fakeManifest(base, join(dir.path, 'base.manifest.json'), ['child.cow']);
      const ok = await checkBase(header(base), cow, false);
      assert.equal(ok.name, base);
      await ok.file.close();
      assert.match((await rejection(checkBase(header(base), cow, true))).message, /x\.cow is not recorded as a COW child of \S+base\.img in base\.manifest\.json/);
      const child = await checkBase(header(base), join(dir.path, 'child.cow'), true);
      await child.file.close();
      await writeFile(base, 'C'.repeat(4096));
      assert.match((await rejection(checkBase(header(base), cow, false))).message, /base\.img no longer has the content base\.manifest\.json recorded/);
    });
  });

  describe('pinned files', () => {
    it('createNewFile does not follow a dangling link and never creates a file wider than asked', async () => {
      const victim = join(dir.path, 'created-through-link');
      await symlink(victim, join(dir.path, 'out.img'));
      assert.match((await rejection(createNewFile(join(dir.path, 'out.img'), 0o644))).message, /out\.img exists \(or is a link\)/);
      assert.ok(!existsSync(victim));
      const f = await createNewFile(join(dir.path, 'new.img'), 0o600 & 0o644);
      await f.close();
      assert.equal((await stat(join(dir.path, 'new.img'))).mode & 0o777, 0o600);
    });

    it('openRegularFile refuses links, FIFOs and directories; its /proc path reaches the opened file after a swap', async () => {
      const file = await dir.write('f', 'content');
      await symlink(file, join(dir.path, 'l'));
      await mkfifo(join(dir.path, 'p'));
      assert.match((await rejection(openRegularFile(join(dir.path, 'l'), 'base'))).message, /is a symbolic link/);
      assert.match((await rejection(within(openRegularFile(join(dir.path, 'p'), 'base')))).message, /is a FIFO/);
      assert.match((await rejection(openRegularFile(dir.path, 'base'))).message, /is a directory/);
      const f = await openRegularFile(file, 'base');
      await writeFile(join(dir.path, 'other'), 'swapped in');
      await rename(join(dir.path, 'other'), file);
      assert.equal(await readFile(file, 'utf8'), 'swapped in');
      assert.equal(await readFile(f.path, 'utf8'), 'content', 'the pinned path still reaches the file that was checked');
      await f.close();
    });
  });
});
