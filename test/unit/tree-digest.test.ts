import assert from 'node:assert/strict';
import { chmod, readdir, readFile, symlink, unlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { exec } from '../../src/host/exec.js';
import { treeDigest } from '../../src/cache/tree-digest.js';
import { tempDir, type TempDir } from '../helpers.js';

describe('tree digest (cache keys of directory inputs)', () => {
  let dir: TempDir;
  beforeEach(async () => {
    dir = await tempDir();
  });
  afterEach(() => dir.remove());

  it('changes with a file content that keeps its size and mtime, a link target or a mode; not with the place of the tree', async () => {
    const a = join(dir.path, 'a');
    const f = await dir.write('a/etc/motd', 'version A\n');
    await symlink('motd', join(a, 'etc/link'));
    const when = new Date('2024-01-01T00:00:00Z');
    await utimes(f, when, when);
    const first = await treeDigest(a);
    await exec('cp', ['-a', a, join(dir.path, 'b')]);
    assert.equal(await treeDigest(join(dir.path, 'b')), first, 'a faithful copy elsewhere has the same digest');
    await writeFile(f, 'version B\n');
    await utimes(f, when, when);
    const content = await treeDigest(a);
    assert.notEqual(content, first, 'same size and mtime, other content');
    await unlink(join(a, 'etc/link'));
    await symlink('shadow', join(a, 'etc/link'));
    const link = await treeDigest(a);
    assert.notEqual(link, content);
    await chmod(f, 0o600);
    assert.notEqual(await treeDigest(a), link);
    assert.notEqual(await treeDigest(join(dir.path, 'missing')), first);
  });

  it('takes only the files an include filter passes', async () => {
    const t = join(dir.path, 't');
    await dir.write('t/drivers/x.ko', 'module');
    const f = await dir.write('t/drivers/x.o', 'object');
    const d1 = await treeDigest(t, { include: (rel) => rel.endsWith('.ko') });
    await writeFile(f, 'changed');
    assert.equal(await treeDigest(t, { include: (rel) => rel.endsWith('.ko') }), d1);
  });

  it('memoized (a warm build digests the modules without reading them): the memo is used for an unchanged tree, and a content change that keeps size and mtime still changes the digest', async () => {
    const memo = join(dir.path, 'memo');
    const t = join(dir.path, 't');
    const f = await dir.write('t/lib/mod.ko', 'module A');
    const when = new Date('2024-01-01T00:00:00Z');
    await utimes(f, when, when);
    const plain = await treeDigest(t);
    assert.equal(await treeDigest(t, { memo, settleNs: 0n }), plain, 'the memo gives the digest the tree has');
    const [name] = await readdir(memo);
    const file = join(memo, name!);
    // A memo naming another digest for this very tree is believed: it was used, the files were not read.
    const record = JSON.parse(await readFile(file, 'utf8'));
    await writeFile(file, JSON.stringify({ ...record, digest: 'from-the-memo' }));
    assert.equal(await treeDigest(t, { memo, settleNs: 0n }), 'from-the-memo');
    // Same size, same mtime, other content: the ctime moved, so the memo no longer applies.
    await writeFile(f, 'module B');
    await utimes(f, when, when);
    const changed = await treeDigest(t, { memo, settleNs: 0n });
    assert.equal(changed, await treeDigest(t));
    assert.notEqual(changed, plain);
    // A tree changed in the last seconds is not memoized (the default settle time).
    await writeFile(f, 'module C');
    await utimes(f, when, when);
    await writeFile(file, JSON.stringify({ ...record, digest: 'stale' }));
    assert.equal(await treeDigest(t, { memo }), await treeDigest(t));
    assert.equal(JSON.parse(await readFile(file, 'utf8')).digest, 'stale', 'not rewritten while the tree is fresh');
  });
});
