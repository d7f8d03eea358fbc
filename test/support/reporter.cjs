// The spec reporter, plus: every pending test is listed at the end with why it
// did not run (the reason test/support/skip.ts attached), and under CI=true
// each pending test counts as a failure, so the run exits non-zero.
'use strict';
const { reporters, Runner } = require('mocha');

const { EVENT_TEST_PENDING, EVENT_RUN_END } = Runner.constants;

function reasonOf(test) {
  for (let r = test; r; r = r.parent) if (r.skipReason) return r.skipReason;
  return 'no reason given (it.skip, describe.skip or a bare this.skip())';
}

class NoHideReporter extends reporters.Spec {
  constructor(runner, options) {
    super(runner, options);
    const ci = process.env.CI === 'true' || process.env.CI === '1';
    const pending = [];
    runner.on(EVENT_TEST_PENDING, (test) => pending.push(test));
    runner.on(EVENT_RUN_END, () => {
      if (!pending.length) return;
      const lines = pending.map((t) => `  ${t.fullTitle()}: ${reasonOf(t)}`);
      if (ci) {
        process.stdout.write(`\n${pending.length} pending test(s) fail the run in CI (CI=true):\n${lines.join('\n')}\n\n`);
        runner.failures += pending.length;
      } else {
        process.stdout.write(`\n${pending.length} test(s) skipped (they fail under CI=true):\n${lines.join('\n')}\n\n`);
      }
    });
  }
}

module.exports = NoHideReporter;
