import assert from 'node:assert/strict';
import { spawn } from '../../src/host/exec.js';
import { processesIn, stopProcessesIn } from '../../src/host/procs.js';
import { tempDir, type TempDir } from '../helpers.js';

describe('processes left in a tree (host/procs)', function () {
  this.timeout(20000);
  let dir: TempDir;
  beforeEach(async () => {
    dir = await tempDir();
  });
  afterEach(() => dir.remove());

  it('finds a process working below the tree and stops it, even one that ignores SIGTERM, naming each in one warning', async () => {
    const polite = spawn('sleep', ['300'], { cwd: dir.path });
    const stubborn = spawn('sh', ['-c', 'trap "" TERM; while :; do sleep 0.1; done'], { cwd: dir.path });
    const elsewhere = spawn('sleep', ['300']);
    try {
      await new Promise((r) => setTimeout(r, 300));
      const found = await processesIn(dir.path);
      assert.deepEqual(new Set(found.filter((p) => p.pid === polite.child.pid || p.pid === stubborn.child.pid).map((p) => p.pid)), new Set([polite.child.pid, stubborn.child.pid]));
      assert.ok(!found.some((p) => p.pid === elsewhere.child.pid || p.pid === process.pid), 'nothing outside the tree, never this process');
      const warnings: string[] = [];
      const stopped = await stopProcessesIn(dir.path, (l) => warnings.push(l), 300);
      assert.ok(stopped.some((p) => p.pid === polite.child.pid && p.command === 'sleep 300'));
      assert.equal(warnings.length, 1);
      assert.match(warnings[0]!, new RegExp(`killed \\d+ process\\(es\\) left running in ${dir.path}: .*pid ${polite.child.pid} \\(sleep 300\\)`));
      assert.match(warnings[0]!, new RegExp(`pid ${stubborn.child.pid} \\(sh -c trap`));
      assert.equal((await polite.exited).signal, 'SIGTERM');
      assert.equal((await stubborn.exited).signal, 'SIGKILL');
      assert.deepEqual(await processesIn(dir.path), []);
      assert.deepEqual(await stopProcessesIn(dir.path, (l) => warnings.push(l)), [], 'nothing left: no warning');
      assert.equal(warnings.length, 1);
    } finally {
      for (const s of [polite, stubborn, elsewhere]) s.child.kill('SIGKILL');
    }
  });
});
