import assert from 'node:assert/strict';
import { chmod, readdir, readFile, symlink, writeFile, mkdir } from 'node:fs/promises';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { cleanupStale, Journal } from '../../src/host/journal.js';
import { Teardown } from '../../src/host/teardown.js';
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
    assert.deepEqual(
      state.resources.map((r) => r.path),
      ['/x/a', '/x/b'],
    );
    await a.release();
    assert.deepEqual(
      (JSON.parse(await readFile(journal.file, 'utf8')) as typeof state).resources.map((r) => r.path),
      ['/x/b'],
    );
    await teardown.unwind(false);
    journal.close();
    assert.equal(existsSync(journal.file), false);
  });

  it('keeps an entry whose release failed, so cleanup can try again', async () => {
    const journal = new Journal(join(dir.path, 'run'));
    const teardown = new Teardown(undefined, journal);
    teardown.defer(
      'fails',
      () => {
        throw new Error('busy');
      },
      { resource: { kind: 'file', path: '/x/busy' } },
    );
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
    const dead = {
      pid: 999999999,
      pidns: ns,
      started: 'then',
      argv: [],
      resources: [
        { id: 1, kind: 'tree', path: tree },
        { id: 2, kind: 'file', path: partial },
        { id: 3, kind: 'loop', device: '/dev/loop0', file: join(dir.path, 'gone.img') },
      ],
    };
    await writeFile(join(run, 'dead.json'), JSON.stringify(dead));
    const livePartial = await dir.write('live.img', 'x');
    await writeFile(join(run, 'live.json'), JSON.stringify({ ...dead, pid: process.pid, resources: [{ id: 1, kind: 'file', path: livePartial }] }));
    const report = await cleanupStale(run);
    assert.equal(report.builds, 1);
    assert.deepEqual(report.errors, []);
    assert.deepEqual(
      report.actions.map((a) => a.replace(/ \(left by.*/, '')),
      [`removed ${partial}`, `removed ${tree}`],
      'a loop device that no longer backs the recorded file is not touched',
    );
    assert.equal(existsSync(tree), false);
    assert.equal(existsSync(livePartial), true);
    assert.deepEqual(await readdir(run), ['live.json']);
  });

  it('a dead build whose temporary directory is gone altogether: its journal is removed, not left with a warning at every build', async () => {
    const run = join(dir.path, 'run');
    await mkdir(run);
    const gone = join(dir.path, 'removed-by-its-test');
    const dead = {
      pid: 999999999,
      pidns: pidNamespace(),
      started: 'then',
      argv: [],
      resources: [
        { id: 1, kind: 'lock', path: join(gone, 'out', '.r.img.lock') },
        { id: 2, kind: 'file', path: join(gone, 'out', '.r.img.partial-999999999-abc') },
        { id: 3, kind: 'tree', path: join(gone, 'out', '.r.root.partial-999999999-abc') },
      ],
    };
    await writeFile(join(run, 'dead.json'), JSON.stringify(dead));
    const report = await cleanupStale(run);
    assert.deepEqual(report.errors, []);
    assert.equal(report.builds, 1);
    assert.deepEqual(await readdir(run), []);
  });

  it('a journaled path below a dangling link is still left alone', async () => {
    const run = join(dir.path, 'run');
    await mkdir(run);
    await symlink(join(dir.path, 'nowhere'), join(dir.path, 'dangling'));
    const dead = { pid: 999999999, pidns: pidNamespace(), started: 'then', argv: [], resources: [{ id: 1, kind: 'file', path: join(dir.path, 'dangling', 'x.img.partial-999999999-abc') }] };
    await writeFile(join(run, 'dead.json'), JSON.stringify(dead));
    const report = await cleanupStale(run);
    assert.match(report.errors.join('\n'), /symbolic link on the way/);
  });

  it('a journal marked kept (--on-failure keep) is left alone at the start of a build, and released by umlbuild cleanup', async () => {
    const run = join(dir.path, 'run');
    await mkdir(run, { mode: 0o700 });
    const tree = join(dir.path, 'kept-tree');
    await mkdir(tree);
    await writeFile(join(run, 'kept.json'), JSON.stringify({ pid: 999999999, pidns: pidNamespace(), started: 'then', kept: true, resources: [{ id: 1, kind: 'tree', path: tree }] }));
    const atBuild = await cleanupStale(run, { kept: false });
    assert.equal(atBuild.builds, 0);
    assert.deepEqual(atBuild.actions, []);
    assert.equal(atBuild.kept.length, 1);
    assert.match(atBuild.kept[0]!, /a build that failed \(pid 999999999, started then\) kept \S+kept-tree for inspection: `umlbuild cleanup` releases it/);
    assert.equal(existsSync(tree), true);
    const cleanup = await cleanupStale(run);
    assert.equal(cleanup.builds, 1);
    assert.deepEqual(cleanup.errors, []);
    assert.equal(existsSync(tree), false);
    assert.deepEqual(await readdir(run), []);
  });

  describe('a crafted or foreign journal', () => {
    let victims: TempDir;
    let run: string;
    const ns = pidNamespace();
    beforeEach(async () => {
      victims = await tempDir('victims-');
      run = join(dir.path, 'run');
      await mkdir(run, { mode: 0o700 });
    });
    afterEach(() => victims.remove());

    const crafted = (resources: object[], pid = 999999999) => JSON.stringify({ pid, pidns: ns, started: 'then', resources: resources.map((r, i) => ({ id: i + 1, ...r })) });

    it('names a victim file, a victim tree and links: cleanup leaves them all alone and says why', async () => {
      const file = await victims.write('victim.txt', 'precious');
      const tree = join(victims.path, 'tree');
      await victims.write('tree/inside', 'precious');
      // A link in a temporary root, to a victim tree; a partial name reached through a link; a partial name of another pid.
      await symlink(tree, join(dir.path, 'linked'));
      const viaLink = join(dir.path, 'linked', `.x.img.partial-999999999-abcdef`);
      await writeFile(join(tree, '.x.img.partial-999999999-abcdef'), 'precious');
      const otherPid = await victims.write('.y.img.partial-12345-abcdef', 'precious');
      await writeFile(
        join(run, 'evil.json'),
        crafted([
          { kind: 'file', path: file },
          { kind: 'tree', path: tree },
          { kind: 'tree', path: join(dir.path, 'linked') },
          { kind: 'file', path: viaLink },
          { kind: 'file', path: otherPid },
          { kind: 'file', path: `${dir.path}/../../${file}` },
          { kind: 'mount', path: victims.path },
          { kind: 'loop', device: '/dev/loop0', file },
          { kind: 'netns', name: 'production' },
          { kind: 'lock', path: file },
        ]),
      );
      const report = await cleanupStale(run);
      assert.deepEqual(report.actions, []);
      assert.equal(report.errors.length, 10, report.errors.join('\n'));
      assert.match(report.errors.join('\n'), /left alone \{"id":1,"kind":"file","path":"[^"]+victim\.txt"\}: neither below umlbuild's temporary directories nor one of its partial files \(\*\.partial-999999999-\*\)/);
      assert.match(report.errors.join('\n'), /"id":4,.*: there is a symbolic link on the way to it/);
      assert.match(report.errors.join('\n'), /"id":3,.*: it is a symbolic link$/m);
      assert.equal(await readFile(file, 'utf8'), 'precious');
      assert.equal(await readFile(join(tree, 'inside'), 'utf8'), 'precious');
      assert.equal(await readFile(join(tree, '.x.img.partial-999999999-abcdef'), 'utf8'), 'precious');
      assert.equal(await readFile(otherPid, 'utf8'), 'precious');
      assert.ok(existsSync(join(run, 'evil.json')), 'the journal stays, for a person to look at');
    });

    it('is not read from a directory others can write, nor through a link, nor from a file not ours', async () => {
      const file = await victims.write('.x.img.partial-999999999-abcdef', 'precious');
      await writeFile(join(run, 'a.json'), crafted([{ kind: 'file', path: file }]));
      await chmod(run, 0o777);
      const open = await cleanupStale(run);
      assert.match(open.errors.join('\n'), /journal directory \S+ not used: it is writable by others \(mode 777\)/);
      await chmod(run, 0o700);
      await writeFile(join(victims.path, 'elsewhere.json'), crafted([{ kind: 'file', path: file }]));
      await symlink(join(victims.path, 'elsewhere.json'), join(run, 'b.json'));
      await chmod(join(run, 'a.json'), 0o666);
      const r = await cleanupStale(run);
      assert.match(r.errors.join('\n'), /journal \S+a\.json not used: it is writable by others/);
      assert.match(r.errors.join('\n'), /journal \S+b\.json not used: it is a symbolic link/);
      assert.equal(await readFile(file, 'utf8'), 'precious');
      await symlink(run, join(dir.path, 'run-link'));
      assert.match((await cleanupStale(join(dir.path, 'run-link'))).errors.join('\n'), /not used: it is a symbolic link/);
    });

    it('removes a stale lock of the dead process, never a live holder lock', async () => {
      const sleeper = spawn('sleep', ['60'], { stdio: 'ignore' });
      try {
        const dead = await dir.write('out/.x.img.lock', `999999999 ${ns}`);
        const live = await dir.write('out/.y.img.lock', `${sleeper.pid} ${ns}`);
        await writeFile(join(run, 'dead.json'), crafted([{ kind: 'lock', path: dead }]));
        await writeFile(join(run, 'reused.json'), crafted([{ kind: 'lock', path: live }]));
        const r = await cleanupStale(run);
        assert.deepEqual(r.errors, []);
        assert.deepEqual(
          r.actions.map((a) => a.replace(/ \(left by.*/, '')),
          [`removed the stale lock ${dead}`],
        );
        assert.equal(existsSync(dead), false);
        assert.equal(existsSync(live), true);
      } finally {
        sleeper.kill();
      }
    });
  });

  it('records paths with the links above them resolved (an --out the user reached through a link stays cleanable)', async () => {
    await mkdir(join(dir.path, 'real'));
    await symlink(join(dir.path, 'real'), join(dir.path, 'link'));
    const journal = new Journal(join(dir.path, 'canon'));
    journal.add({ kind: 'file', path: join(dir.path, 'link', '.x.img.partial-1-abcdef') });
    journal.add({ kind: 'loop', device: '/dev/loop9', file: join(dir.path, 'link', 'x.img') });
    const state = JSON.parse(await readFile(journal.file, 'utf8')) as { resources: { path?: string; file?: string }[] };
    assert.deepEqual(
      state.resources.map((r) => r.path ?? r.file),
      [join(dir.path, 'real', '.x.img.partial-1-abcdef'), join(dir.path, 'real', 'x.img')],
    );
  });

  it('holds no argv: a password given on the command line is not in the journal', async () => {
    const argv = process.argv;
    process.argv = [...argv, '--set', 'root_password=SECRET-pw-1'];
    try {
      const journal = new Journal(join(dir.path, 'argv'));
      journal.add({ kind: 'file', path: '/x/a' });
      assert.doesNotMatch(await readFile(journal.file, 'utf8'), /SECRET-pw-1/);
    } finally {
      process.argv = argv;
    }
  });
});
