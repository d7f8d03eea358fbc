import assert from 'node:assert/strict';
import { TaskLogs } from '../../src/runner/task-log.js';

/** A stand-in for a listr2 task: writing into it after it finished throws, as the default renderer does. */
function fakeTask(name: string, seen: string[]) {
  let finished = false;
  return {
    write: (line: string) => {
      if (finished) throw new TypeError(`Cannot read properties of undefined (reading 'write'): ${name}`);
      seen.push(`${name}: ${line}`);
    },
    finish: () => {
      finished = true;
    },
  };
}

describe('task logs (no line into a finished task)', () => {
  it('a logger captured by a step writes into its task while it runs, then into the running task, then the sink', () => {
    const seen: string[] = [];
    const logs = new TaskLogs((l) => seen.push(`sink: ${l}`));
    const one = fakeTask('one', seen);
    const a = logs.open(one.write);
    const captured = a.log; // what a teardown release deferred by step one holds
    captured('mounted');
    a.close();
    one.finish();
    const two = fakeTask('two', seen);
    const b = logs.open(two.write);
    captured('unmounted during two');
    b.close();
    two.finish();
    captured('removed after the run');
    logs.log('runner line');
    assert.deepEqual(seen, ['one: mounted', 'two: unmounted during two', 'sink: removed after the run', 'sink: runner line']);
  });

  it('closing an older task does not detach the running one', () => {
    const seen: string[] = [];
    const logs = new TaskLogs((l) => seen.push(`sink: ${l}`));
    const a = logs.open((l) => seen.push(`a: ${l}`));
    const b = logs.open((l) => seen.push(`b: ${l}`));
    a.close();
    a.log('late');
    b.close();
    a.log('later');
    assert.deepEqual(seen, ['b: late', 'sink: later']);
  });
});
