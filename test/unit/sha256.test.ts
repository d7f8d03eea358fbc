import assert from 'node:assert/strict';
import { join } from 'node:path';
import { exec } from '../../src/host/exec.js';
import { dataRanges, sha256File } from '../../src/host/hashing.js';
import { tempDir, type TempDir } from '../helpers.js';

describe('sha256 of sparse images', () => {
  for (const base of ['/var/tmp', '/dev/shm']) {
    describe(`on ${base}`, () => {
      let dir: TempDir;
      beforeEach(async () => {
        dir = await tempDir('umlbuild-sha-', base);
      });
      afterEach(() => dir.remove());

      it('hashes holes as zeros without reading them, and agrees with sha256sum', async () => {
        const file = join(dir.path, 'sparse.img');
        await exec('truncate', ['-s', '64M', file]);
        // Data at the start, in the middle (not block-aligned), and at the very end.
        await exec('sh', [
          '-c',
          'printf start | dd of="$1" conv=notrunc status=none; head -c 100000 /dev/urandom | dd of="$1" bs=1 seek=30000001 conv=notrunc status=none; printf end | dd of="$1" bs=1 seek=67108861 conv=notrunc status=none',
          'sh',
          file,
        ]);
        const { stdout } = await exec('sha256sum', [file]);
        assert.equal(await sha256File(file), stdout.split(' ')[0]);
        const ranges = await dataRanges(file);
        if (base === '/var/tmp') {
          assert.ok(ranges && ranges.length >= 3, `extents: ${JSON.stringify(ranges)}`);
          assert.ok(ranges.reduce((n, [s, e]) => n + e - s, 0) < 4 << 20, 'only the data is mapped');
        }
      });
    });
  }
});
