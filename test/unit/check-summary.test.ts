import assert from 'node:assert/strict';
import { checkSummary, plannedChecks, type Check } from '../../src/uml/boot-test.js';
import type { BuiltImage } from '../../src/uml/target.js';

describe('umlbuild test: checks not run are reported as not run, never as passed', () => {
  const img = { test: { user: 'root', hostname: 'uml', netdev: 'vec0', root: 'ubd', expect: { 'uname -r': '^6' } } } as unknown as BuiltImage;

  it('plans login, hostname, root, modules, netdev and each expect, in order', () => {
    assert.deepEqual(plannedChecks(img, { expect: [['id', /root/]] }), ['login', 'hostname', 'root', 'modules', 'netdev', 'expect uname -r', 'expect id']);
  });

  it('"4 of 4 checks passed, 1 not run": a skipped netdev is not a pass', () => {
    const checks: Check[] = [...['login', 'hostname', 'root', 'modules'].map((name) => ({ name, ok: true, detail: '' })), { name: 'netdev', ok: false, notRun: true, detail: 'vec0: --no-network' }];
    assert.equal(checkSummary(checks).text, '4 of 4 checks passed, 1 not run');
    assert.equal(checkSummary(checks.slice(0, 4)).text, '4 of 4 checks passed');
  });

  it('after a refused login: "0 of 1 checks passed, 4 not run"', () => {
    const checks: Check[] = [{ name: 'login', ok: false, detail: 'refused' }, ...['hostname', 'root', 'modules', 'netdev'].map((name) => ({ name, ok: false, notRun: true, detail: 'the login failed' }))];
    assert.equal(checkSummary(checks).text, '0 of 1 checks passed, 4 not run');
  });
});
