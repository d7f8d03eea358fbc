import assert from 'node:assert/strict';
import { formatSize, parseSize } from '../../src/model/size.js';

describe('parseSize', () => {
  it('reads binary suffixes and plain bytes', () => {
    assert.equal(parseSize('2G'), 2 * 2 ** 30);
    assert.equal(parseSize('512M'), 512 * 2 ** 20);
    assert.equal(parseSize('1.5K'), 1536);
    assert.equal(parseSize('1t'), 2 ** 40);
    assert.equal(parseSize('64MiB'), 64 * 2 ** 20);
    assert.equal(parseSize(4096), 4096);
  });
  it('rejects nonsense, zero, negatives and absurd sizes', () => {
    for (const bad of ['', 'big', '-1G', '0', '2X', '1.2.3G', 0, -5, 1.5, '99999999T']) {
      assert.throws(() => parseSize(bad), Error, `accepted ${JSON.stringify(bad)}`);
    }
  });
  it('formats back to the largest whole unit', () => {
    assert.equal(formatSize(2 * 2 ** 30), '2G');
    assert.equal(formatSize(1536), '1536');
  });
});
