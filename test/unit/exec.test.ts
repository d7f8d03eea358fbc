import assert from 'node:assert/strict';
import { CommandError } from '../../src/errors.js';
import { commandLine, exec } from '../../src/host/exec.js';
import { registerSecret } from '../../src/host/secrets.js';
import { rejection } from '../helpers.js';

describe('exec', () => {
  it('runs with a clean environment', async () => {
    process.env.UMLBUILD_TEST_LEAK = 'leaked';
    const { stdout } = await exec('sh', ['-c', 'echo "$LC_ALL $DEBIAN_FRONTEND ${UMLBUILD_TEST_LEAK:-clean}"; echo $PATH']);
    delete process.env.UMLBUILD_TEST_LEAK;
    const [first, path] = stdout.split('\n');
    assert.equal(first, 'C noninteractive clean');
    assert.match(path!, /\/usr\/sbin/);
  });

  it('fails with the command, its exit code and the tail of stderr', async () => {
    const err = await rejection<CommandError>(exec('sh', ['-c', 'for i in $(seq 1 30); do echo line$i >&2; done; exit 7']));
    assert.ok(err instanceof CommandError);
    assert.equal(err.commandExitCode, 7);
    assert.match(err.message, /^command failed \(exit code 7\): sh -c /);
    assert.deepEqual(
      err.stderrTail,
      Array.from({ length: 15 }, (_, i) => `line${i + 16}`),
    );
  });

  it('streams lines and feeds stdin', async () => {
    const lines: string[] = [];
    await exec('cat', [], { input: 'one\ntwo\n', onLine: (l) => lines.push(l) });
    assert.deepEqual(lines, ['one', 'two']);
  });

  it('redacts secrets from the logged command line and output', async () => {
    registerSecret('s3cr3t-value');
    assert.equal(commandLine('echo', ['pw=s3cr3t-value']), 'echo pw=***');
    const lines: string[] = [];
    await exec('echo', ['s3cr3t-value'], { onLine: (l) => lines.push(l) });
    assert.deepEqual(lines, ['***']);
  });

  it('names a missing command', async () => {
    const err = await rejection<CommandError>(exec('umlbuild-no-such-tool', []));
    assert.ok(err instanceof CommandError);
    assert.match(err.message, /umlbuild-no-such-tool/);
  });

  it('stops a command when the signal aborts', async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('stop now')), 100);
    const t0 = Date.now();
    const err = await rejection(exec('sleep', ['20'], { signal: controller.signal }));
    assert.equal(err.message, 'stop now');
    assert.ok(Date.now() - t0 < 5000);
  });
});
