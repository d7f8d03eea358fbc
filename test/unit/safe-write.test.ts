import assert from 'node:assert/strict';
import { lstat, readdir, readFile, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { copyReplacing, makePrivateDir, partialPid, writeNew, writeReplacing, writeReplacingSync } from '../../src/host/safe-write.js';
import { rejection, tempDir, type TempDir } from '../helpers.js';

describe('writing outside a root tree (host/safe-write)', () => {
  let dir: TempDir;
  beforeEach(async () => {
    dir = await tempDir();
  });
  afterEach(() => dir.remove());

  it('replaces a planted link (to a file or dangling) instead of writing through it', async () => {
    const victim = await dir.write('victim', 'precious');
    await symlink(victim, join(dir.path, 'SHA256SUMS'));
    await symlink(join(dir.path, 'nowhere'), join(dir.path, 'x.sh'));
    await writeReplacing(join(dir.path, 'SHA256SUMS'), 'sums\n');
    writeReplacingSync(join(dir.path, 'x.sh'), 'echo\n', 0o755);
    assert.equal(await readFile(victim, 'utf8'), 'precious');
    assert.ok((await lstat(join(dir.path, 'SHA256SUMS'))).isFile());
    assert.equal(await readFile(join(dir.path, 'SHA256SUMS'), 'utf8'), 'sums\n');
    assert.equal((await lstat(join(dir.path, 'x.sh'))).mode & 0o777, 0o755);
    assert.deepEqual((await readdir(dir.path)).sort(), ['SHA256SUMS', 'victim', 'x.sh'], 'no dangling target created, no temporary left');
  });

  it('a new file or private directory is never made over an existing name, link or not', async () => {
    const victim = await dir.write('victim', 'precious');
    await symlink(victim, join(dir.path, 'new'));
    assert.equal((await rejection<NodeJS.ErrnoException>(writeNew(join(dir.path, 'new'), 'x'))).code, 'EEXIST');
    await symlink(dir.path, join(dir.path, 'staging'));
    assert.equal((await rejection<NodeJS.ErrnoException>(makePrivateDir(join(dir.path, 'staging')))).code, 'EEXIST');
    assert.equal(await readFile(victim, 'utf8'), 'precious');
    const made = await makePrivateDir(join(dir.path, 'private'));
    assert.equal((await lstat(made)).mode & 0o777, 0o700);
  });

  it('copies with the source mode, through a fresh name', async () => {
    const src = await dir.write('a.sh', '#!/bin/sh\n');
    const victim = await dir.write('victim', 'precious');
    await symlink(victim, join(dir.path, 'b.sh'));
    await copyReplacing(src, join(dir.path, 'b.sh'));
    assert.equal(await readFile(victim, 'utf8'), 'precious');
    assert.equal(await readFile(join(dir.path, 'b.sh'), 'utf8'), '#!/bin/sh\n');
  });

  it('recognises its partial names and their pid', () => {
    assert.equal(partialPid('/out/.tiny.img.partial-1234-a0b1c2'), 1234);
    assert.equal(partialPid('k.tar.zst.partial-77-ffffff'), 77);
    assert.equal(partialPid('/out/tiny.img'), undefined);
    assert.equal(partialPid('/out/.x.partial-12-zz'), undefined);
  });
});
