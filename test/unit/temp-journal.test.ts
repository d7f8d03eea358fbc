import assert from 'node:assert/strict';
import { chmod } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { exec } from '../../src/host/exec.js';
import { readImageFile } from '../../src/host/debugfs.js';
import { applyImageEdits } from '../../src/edits/image.js';
import type { TreeJournal } from '../../src/host/safe-write.js';
import { runHook } from '../../src/steps/hook.js';
import { tempDir, type TempDir } from '../helpers.js';
import { requireTools } from '../support/skip.js';

/** A journal that remembers what was recorded, and what is still recorded. */
function recorder(): TreeJournal & { seen: string[]; held: Map<number, string> } {
  const held = new Map<number, string>();
  const seen: string[] = [];
  let id = 0;
  return {
    seen,
    held,
    add: (r) => {
      seen.push(r.path);
      held.set(++id, r.path);
      return id;
    },
    forget: (i) => void held.delete(i),
  };
}

describe('temporary trees are journaled while they exist (cleanup finds them after a SIGKILL)', () => {
  let dir: TempDir;
  beforeEach(async () => {
    dir = await tempDir();
  });
  afterEach(() => dir.remove());

  it("a hook's BUILD_DIR", async () => {
    const journal = recorder();
    const script = await dir.write('hook.sh', '#!/bin/sh\ntest -d "$BUILD_DIR"\n');
    await chmod(script, 0o755);
    await runHook({ exec, log: () => undefined, journal }, script, [], { image: '/x.img', outDir: dir.path, recipe: 'r.yml', stage: 'after-image', vars: {} });
    assert.equal(journal.seen.length, 1);
    assert.match(journal.seen[0]!, /\/umlbuild-hook-/);
    assert.equal(journal.held.size, 0, 'forgotten once removed');
    assert.equal(existsSync(journal.seen[0]!), false);
  });

  it("debugfs edits' staging tree (it holds file contents, /etc/shadow included)", async function () {
    const image = `${dir.path}/fs.img`;
    await requireTools(this, 'mkfs.ext4', 'debugfs');
    await exec('mkfs.ext4', ['-q', '-F', image, '8M']);
    const journal = recorder();
    await applyImageEdits(image, [{ kind: 'file', path: '/motd', content: 'hi\n', mode: 0o644, owner: { uid: 0, gid: 0 }, link: 'replace' }], { journal });
    assert.equal((await readImageFile(image, '/motd'))?.trim(), 'hi');
    assert.equal(journal.seen.length, 1);
    assert.match(journal.seen[0]!, /\/umlbuild-edits-/);
    assert.equal(journal.held.size, 0);
  });
});
