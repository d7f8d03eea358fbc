import assert from 'node:assert/strict';
import { readdir, readFile, writeFile, mkdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { cleanupStale, Journal } from '../../src/runner/journal.js';
import { Teardown } from '../../src/runner/teardown.js';
import { pidNamespace } from '../../src/host/lock-file.js';
import { tempDir, type TempDir } from '../helpers.js';

describe('teardown journal (recovery after SIGKILL)', () => {
  let dir: TempDir;
  beforeEach(async () => {
    dir = await tempDir();
  });
  afterEach(() => dir.remove());

  it('records what the teardown stack holds while it holds it, and removes the state file when all is released', async () => {
    const journal = new Journal(join(dir.path, 'run'));
    const teardown = new Teardown(undefined, journal);
    const a = teardown.defer('remove a', () => undefined, { resource: { kind: 'file', path: '/x/a' } });
    teardown.defer('remove b', () => undefined, { resource: { kind: 'tree', path: '/x/b' }, onlyOnFailure: true });
    teardown.defer('no resource', () => undefined);
    const state = JSON.parse(await readFile(journal.file, 'utf8')) as { pid: number; resources: { kind: string; path: string }[] };
    assert.equal(state.pid, process.pid);
    assert.deepEqual(state.resources.map((r) => r.path), ['/x/a', '/x/b']);
    await a.release();
    assert.deepEqual((JSON.parse(await readFile(journal.file, 'utf8')) as typeof state).resources.map((r) => r.path), ['/x/b']);
    await teardown.unwind(false);
    journal.close();
    assert.equal(existsSync(journal.file), false);
  });

  it('keeps an entry whose release failed, so cleanup can try again', async () => {
    const journal = new Journal(join(dir.path, 'run'));
    const teardown = new Teardown(undefined, journal);
    teardown.defer('fails', () => {
      throw new Error('busy');
    }, { resource: { kind: 'file', path: '/x/busy' } });
    assert.equal((await teardown.unwind(true)).length, 1);
    journal.close();
    assert.match(await readFile(journal.file, 'utf8'), /\/x\/busy/);
  });

  it('cleanup releases what a dead process recorded, newest first, and leaves a live one alone', async () => {
    const run = join(dir.path, 'run');
    await mkdir(run);
    const tree = join(dir.path, 'tree');
    await mkdir(join(tree, 'sub'), { recursive: true });
    await writeFile(join(tree, 'sub', 'f'), 'x');
    const partial = await dir.write('partial.img', 'x');
    const ns = pidNamespace();
    const dead = { pid: 999999999, pidns: ns, started: 'then', argv: [], resources: [{ id: 1, kind: 'tree', path: tree }, { id: 2, kind: 'file', path: partial }, { id: 3, kind: 'loop', device: '/dev/loop0', file: join(dir.path, 'gone.img') }] };
    await writeFile(join(run, 'dead.json'), JSON.stringify(dead));
    const livePartial = await dir.write('live.img', 'x');
    await writeFile(join(run, 'live.json'), JSON.stringify({ ...dead, pid: process.pid, resources: [{ id: 1, kind: 'file', path: livePartial }] }));
    const report = await cleanupStale(run);
    assert.equal(report.builds, 1);
    assert.deepEqual(report.errors, []);
    assert.deepEqual(report.actions.map((a) => a.replace(/ \(left by.*/, '')), [`removed ${partial}`, `removed ${tree}`], 'a loop device that no longer backs the recorded file is not touched');
    assert.equal(existsSync(tree), false);
    assert.equal(existsSync(livePartial), true);
    assert.deepEqual(await readdir(run), ['live.json']);
  });
});
