import assert from 'node:assert/strict';
import { join } from 'node:path';
import { exec } from '../../src/host/exec.js';
import { PROJECT } from '../helpers.js';

/** Mocha on the fixture spec, with this project's .mocharc.json (reporter included). */
async function runFixture(env: Record<string, string>) {
  return exec(join(PROJECT, 'node_modules/.bin/mocha'), ['test/fixtures/pending/pending.spec.ts'], { cwd: PROJECT, env, reject: false });
}

describe('tests cannot hide: a skipped or pending test', function () {
  this.timeout(60000);

  it('fails the run under CI=true, naming each pending test and what it misses', async () => {
    const r = await runFixture({ CI: 'true' });
    assert.notEqual(r.exitCode, 0, r.stdout);
    assert.match(r.stdout, /not skipped in CI \(CI=true\): needs host tool umlbuild-no-such-tool \(package umlbuild-no-such-tool\)/);
    assert.match(r.stdout, /pending test\(s\) fail the run in CI \(CI=true\):\n\s+fixture: pending tests is skipped without a reason: no reason given/);
    assert.match(r.stdout, /1 passing/);
  });

  it('outside CI is skipped (exit 0) with a line saying exactly what is missing', async () => {
    const r = await runFixture({});
    assert.equal(r.exitCode, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /2 pending/);
    assert.match(r.stdout, /fixture: pending tests needs a tool that is not there: needs host tool umlbuild-no-such-tool \(package umlbuild-no-such-tool\)/);
    assert.match(r.stdout, /fixture: pending tests is skipped without a reason: no reason given/);
  });
});
