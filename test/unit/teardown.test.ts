import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Journal } from '../../src/host/journal.js';
import { Teardown } from '../../src/host/teardown.js';
import { tempDir } from '../helpers.js';

describe('Teardown', () => {
  it('unwinds last-in first-out and keeps going past errors', async () => {
    const done: string[] = [];
    const t = new Teardown();
    t.defer('rmdir', () => void done.push('rmdir'));
    t.defer('detach', () => {
      throw new Error('busy');
    });
    t.defer('umount', async () => void done.push('umount'));
    const failures = await t.unwind(true);
    assert.deepEqual(done, ['umount', 'rmdir']);
    assert.deepEqual(
      failures.map((f) => [f.label, (f.error as Error).message]),
      [['detach', 'busy']],
    );
    assert.deepEqual(t.labels, []);
  });

  it('runs failure-only entries only when the build failed', async () => {
    for (const failed of [false, true]) {
      const done: string[] = [];
      const t = new Teardown();
      t.defer('remove partial', () => void done.push('remove partial'), { onlyOnFailure: true });
      t.defer('umount', () => void done.push('umount'));
      await t.unwind(failed);
      assert.deepEqual(done, failed ? ['umount', 'remove partial'] : ['umount']);
    }
  });

  it('release() runs an entry once, early, and unwind does not run it again', async () => {
    const done: string[] = [];
    const t = new Teardown();
    t.defer('a', () => void done.push('a'));
    const b = t.defer('b', () => void done.push('b'));
    t.defer('c', () => void done.push('c'));
    await b.release();
    await b.release();
    await t.unwind(false);
    assert.deepEqual(done, ['b', 'c', 'a']);
  });

  it('drop() forgets an entry without running it', async () => {
    const done: string[] = [];
    const t = new Teardown();
    t.defer('a', () => void done.push('a')).drop();
    await t.unwind(true);
    assert.deepEqual(done, []);
  });

  it('keep() (--on-failure keep): releases what holds nothing journaled and what it is told to, forgets what is gone, and leaves the rest journaled and marked kept', async () => {
    const dir = await tempDir();
    try {
      const journal = new Journal(join(dir.path, 'run'));
      const done: string[] = [];
      const t = new Teardown(undefined, journal);
      t.defer('remove partial image', () => void done.push('partial'), { onlyOnFailure: true, resource: { kind: 'file', path: '/x/.a.img.partial-1-abc' } });
      t.defer('remove tree', () => void done.push('tree'), { resource: { kind: 'tree', path: '/x/tree' } });
      t.defer('release lock', () => void done.push('lock'), { resource: { kind: 'lock', path: '/x/k.lock' } });
      t.defer('restore policy-rc.d', () => void done.push('policy'));
      t.defer('unmount', () => void done.push('mount'), { resource: { kind: 'mount', path: '/x/tree/m' } });
      const { kept, failures } = await t.keep((r) => (r.kind === 'lock' ? 'release' : r.kind === 'file' ? 'gone' : 'keep'));
      assert.deepEqual(failures, []);
      assert.deepEqual(done, ['policy', 'lock'], 'the entries without a resource and the released one ran, newest first');
      assert.deepEqual(
        kept.map((r) => ('path' in r ? r.path : '')),
        ['/x/tree', '/x/tree/m'],
      );
      assert.deepEqual(t.labels, []);
      journal.close();
      const state = JSON.parse(await readFile(journal.file, 'utf8')) as { kept?: boolean; resources: { path: string }[] };
      assert.equal(state.kept, true);
      assert.deepEqual(
        state.resources.map((r) => r.path),
        ['/x/tree', '/x/tree/m'],
        'what is kept stays in the journal; the gone partial and the released lock do not',
      );
    } finally {
      await dir.remove();
    }
  });
});
