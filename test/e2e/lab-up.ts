/**
 * `lab up` as a separate process for test/e2e/lab.test.ts (SIGKILL and Ctrl-C while it comes up): the Lab is
 * given as JSON (argv[2]) until the lab file loader is there; SIGINT/SIGTERM abort it as the command line's do.
 */
import { InterruptedError } from '../../src/errors.js';
import { upLab } from '../../src/api/lab.js';

const controller = new AbortController();
process.on('SIGINT', () => controller.abort(new InterruptedError('SIGINT')));
process.on('SIGTERM', () => controller.abort(new InterruptedError('SIGTERM')));
try {
  await upLab(JSON.parse(process.argv[2]!), { log: (l) => process.stdout.write(`${l}\n`), signal: controller.signal });
  process.stdout.write('LAB IS UP\n');
} catch (e) {
  process.stdout.write(`FAILED: ${(e as Error).message}\n`);
  process.exitCode = controller.signal.aborted ? 130 : 1;
}
