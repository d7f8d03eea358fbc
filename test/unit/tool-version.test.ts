/**
 * The bootstrap tool's version for cache keys: asked once, then kept with the
 * tool file's signature in the cache's digests directory, and asked again
 * when the file changes. A link planted at the memo file is not followed.
 */
import assert from 'node:assert/strict';
import { chmod, readFile, symlink, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { toolVersion } from '../../src/cache/tool-version.js';
import type { ExecResult } from '../../src/host/exec.js';
import { tempDir, type TempDir } from '../helpers.js';

describe('cache/tool-version', () => {
  let dir: TempDir;
  before(async () => {
    dir = await tempDir('umlbuild-toolversion-');
  });
  after(() => dir?.remove());

  it('asks a tool once per file signature, and not through a planted link', async () => {
    const bin = join(dir.path, 'bin');
    await dir.write('bin/fakestrap', '#!/bin/sh\necho fakestrap 1.0\n');
    await chmod(join(bin, 'fakestrap'), 0o755);
    const memo = join(dir.path, 'digests');
    let asked = 0;
    const exec = async (cmd: string) => {
      asked++;
      return { stdout: `${cmd.split('/').pop()} 1.${asked}\n`, stderr: '', exitCode: 0 } as unknown as ExecResult;
    };
    // A path: findTool takes it as it is (the clean PATH of the commands umlbuild runs would not have it).
    const tool = join(bin, 'fakestrap');
    {
      assert.equal(await toolVersion(tool, exec, memo), 'fakestrap 1.1');
      assert.equal(await toolVersion(tool, exec, memo), 'fakestrap 1.1', 'kept');
      assert.equal(asked, 1);
      const later = new Date(Date.now() + 5000);
      await utimes(join(bin, 'fakestrap'), later, later);
      assert.equal(await toolVersion(tool, exec, memo), 'fakestrap 1.2', 'a changed tool is asked again');
      assert.equal(await toolVersion(tool, exec), 'fakestrap 1.3', 'no memo: always asked');
      // A link planted where the memo goes: not read as a record, and its target is not written.
      const victim = await dir.write('victim.json', 'keep me');
      const other = join(dir.path, 'digests2');
      await dir.write('digests2/.keep', '');
      const { createHash } = await import('node:crypto');
      await symlink(victim, join(other, `tool-${createHash('sha256').update(tool).digest('hex').slice(0, 32)}.json`));
      assert.equal(await toolVersion(tool, exec, other), 'fakestrap 1.4');
      assert.equal(await readFile(victim, 'utf8'), 'keep me');
    }
  });
});
