/**
 * The direct COW writer (src/uml/cow-write.ts), no root: a COW file written
 * from an edited copy of a small file-system image is read back by the
 * parser, holds exactly the sectors that differ, and uml_moo (what `umlbuild
 * merge` runs) turns base + COW into the edited image byte for byte. Hostile
 * input: a link planted at the COW path, a base that is a link, ranges
 * outside the base.
 */
import assert from 'node:assert/strict';
import { copyFile, lstat, open, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { exec } from '../../src/host/exec.js';
import { writtenRanges } from '../../src/host/e2undo.js';
import { openRegularFile } from '../../src/host/pinned-file.js';
import { readCowHeader } from '../../src/uml/cow.js';
import { writeCowFromCopy } from '../../src/uml/cow-write.js';
import { rejection, tempDir, type TempDir } from '../helpers.js';

describe('writing a UML COW file directly', () => {
  let dir: TempDir;
  let base: string;
  before(async () => {
    dir = await tempDir('umlbuild-cow-write-');
    base = join(dir.path, 'base.img');
    await exec('mkfs.ext4', ['-q', '-F', '-E', 'root_owner=0:0', base, '8M']);
    await exec('debugfs', ['-w', '-R', 'mkdir /etc', base]);
  });
  after(() => dir.remove());

  /** A copy of the base edited by debugfs with an undo file: the copy, its changed ranges. */
  async function edited(name: string, script: string) {
    const copy = join(dir.path, `${name}.copy.img`);
    const undo = join(dir.path, `${name}.undo`);
    await copyFile(base, copy);
    await exec('debugfs', ['-w', '-z', undo, '-f', '-', copy], { input: script });
    return { copy, ranges: (await writtenRanges(undo)).ranges };
  }

  it('holds the changed sectors only, reads back as UML writes it, and uml_moo merges it into the edited image', async () => {
    const content = join(dir.path, 'hostname');
    await writeFile(content, 'web1\n');
    const e = await edited('web1', `write ${content} /etc/hostname\nmkdir /etc/network\n`);
    const cow = join(dir.path, 'web1.cow');
    const pinned = await openRegularFile(base, 'base');
    const fh = await open(e.copy, 'r+');
    const before = await stat(base);
    let sectors: number;
    try {
      ({ sectors } = await writeCowFromCopy({ cow, base: pinned, backingFile: base, copy: fh, ranges: e.ranges }));
    } finally {
      await fh.close();
      await pinned.close();
    }
    const h = (await readCowHeader(cow))!;
    assert.equal(h.backingFile, base);
    assert.equal(h.size, BigInt(before.size));
    assert.equal(h.mtime, Math.floor(before.mtimeMs / 1000));
    assert.deepEqual([h.sectorSize, h.alignment, h.format], [512, 4096, 0]);
    const st = await stat(cow);
    assert.equal(st.size, h.dataOffset + before.size, 'data offset + backing size, as UML makes it');
    assert.equal(st.mode & 0o777, 0o644);
    // The bitmap marks exactly the sectors where copy and base differ.
    const [b, c, f] = [await readFile(base), await readFile(e.copy), await readFile(cow)];
    let differing = 0;
    for (let s = 0; s * 512 < b.length; s++) {
      const differs = !b.subarray(s * 512, (s + 1) * 512).equals(c.subarray(s * 512, (s + 1) * 512));
      const marked = ((f[h.bitmapOffset + (s >> 3)] ?? 0) >> (s & 7)) & 1;
      assert.equal(marked, differs ? 1 : 0, `sector ${s}`);
      if (differs) {
        differing++;
        assert.ok(f.subarray(h.dataOffset + s * 512, h.dataOffset + (s + 1) * 512).equals(c.subarray(s * 512, (s + 1) * 512)), `sector ${s}'s data`);
      }
    }
    assert.ok(differing > 0);
    assert.equal(sectors, differing);
    assert.ok(st.blocks * 512 < 200 * 1024, `sparse: ${st.blocks * 512} bytes allocated`);
    // What umlbuild merge runs: base + COW = the edited copy.
    const merged = join(dir.path, 'merged.img');
    await exec('uml_moo', [cow, merged]);
    assert.ok((await readFile(merged)).equals(c), 'uml_moo merges it into the edited image');
    assert.equal((await stat(base)).mtimeMs, before.mtimeMs, 'the base was only read');
  });

  it('restoreCopy puts the base back into the copy', async () => {
    const e = await edited('restore', 'mkdir /etc/a\nmkdir /etc/b\n');
    const pinned = await openRegularFile(base, 'base');
    const fh = await open(e.copy, 'r+');
    try {
      await writeCowFromCopy({ cow: join(dir.path, 'restore.cow'), base: pinned, backingFile: base, copy: fh, ranges: e.ranges, restoreCopy: true });
    } finally {
      await fh.close();
      await pinned.close();
    }
    assert.ok((await readFile(e.copy)).equals(await readFile(base)));
  });

  describe('hostile input', () => {
    it('a link planted at the COW path is not written through (the victim keeps its bytes)', async () => {
      const victim = join(dir.path, 'victim');
      await writeFile(victim, 'precious');
      const cow = join(dir.path, 'planted.cow');
      await symlink(victim, cow);
      const e = await edited('planted', 'mkdir /etc/p\n');
      const pinned = await openRegularFile(base, 'base');
      const fh = await open(e.copy, 'r+');
      try {
        const err = await rejection(writeCowFromCopy({ cow, base: pinned, backingFile: base, copy: fh, ranges: e.ranges }));
        assert.match(err.message, /planted\.cow exists \(or is a link\)/);
      } finally {
        await fh.close();
        await pinned.close();
      }
      assert.equal(await readFile(victim, 'utf8'), 'precious');
      assert.ok((await lstat(cow)).isSymbolicLink());
    });

    it('a base that is a link is refused before anything is read', async () => {
      const link = join(dir.path, 'link.img');
      await symlink(base, link);
      assert.match((await rejection(openRegularFile(link, 'base image'))).message, /base image \S+link\.img is a symbolic link, not a regular file: refused/);
    });

    it('ranges outside the base, and a base whose size is no multiple of 4096, are refused and write nothing', async () => {
      const e = await edited('outside', 'mkdir /etc/o\n');
      const pinned = await openRegularFile(base, 'base');
      const fh = await open(e.copy, 'r+');
      const cow = join(dir.path, 'outside.cow');
      try {
        const err = await rejection(writeCowFromCopy({ cow, base: pinned, backingFile: base, copy: fh, ranges: [[0, pinned.stat.size + 512]] }));
        assert.match(err.message, /outside \S+base\.img/);
      } finally {
        await fh.close();
        await pinned.close();
      }
      await assert.rejects(lstat(cow), { code: 'ENOENT' });
      const odd = join(dir.path, 'odd.img');
      await writeFile(odd, Buffer.alloc(4096 + 512));
      const p2 = await openRegularFile(odd, 'base');
      const fh2 = await open(odd, 'r+');
      try {
        assert.match((await rejection(writeCowFromCopy({ cow, base: p2, backingFile: odd, copy: fh2, ranges: [] }))).message, /not a multiple of 4096/);
      } finally {
        await fh2.close();
        await p2.close();
      }
    });
  });
});
