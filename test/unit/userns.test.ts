import assert from 'node:assert/strict';
import { subordinateRange } from '../../src/host/userns.js';
import { privilege } from '../../src/host/privilege.js';

describe('user namespaces (rootless builds)', () => {
  it("finds a user's subordinate range by name or uid, first match wins", () => {
    const text = 'alice:100000:65536\n1001:200000:65536\nbob:300000:1000\nalice:500000:65536\n';
    assert.deepEqual(subordinateRange(text, 'alice', 1000), { start: 100000, count: 65536 });
    assert.deepEqual(subordinateRange(text, 'carol', 1001), { start: 200000, count: 65536 });
    assert.deepEqual(subordinateRange(text, 'bob', 1002), { start: 300000, count: 1000 });
    assert.equal(subordinateRange(text, 'dave', 1003), undefined);
  });

  it('tells real root from an ordinary user', () => {
    assert.equal(privilege(), process.getuid!() === 0 ? 'root' : 'user');
  });
});
