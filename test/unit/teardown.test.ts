import assert from 'node:assert/strict';
import { Teardown } from '../../src/host/teardown.js';

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
});
