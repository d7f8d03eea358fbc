/** `umlbuild test`: the library's test(), with its progress and the password prompt on the terminal. */
import type { Command } from 'commander';
import { EXIT, RecipeError, redact } from '../api/basics.js';
import type { BootTestResult } from '../api/test.js';
import { collectExpect, interrupts, out } from './options.js';

export interface TestFlags {
  login?: string;
  expect: [string, RegExp][];
  timeout: string;
  hostname?: string;
  network: boolean;
}

export function addTestOptions(c: Command): Command {
  return c
    .option('--login <user[:password]>', 'log in as this user (default: the recipe test user and password)')
    .option('--expect <command=regex>', 'also run COMMAND and match its output against REGEX, split at the last = (repeatable)', collectExpect, [])
    .option('--timeout <seconds>', 'how long to wait for the login prompt', '120')
    .option('--hostname <name>', 'expect this hostname instead of the recipe one')
    .option('--no-network', 'do not create the interfaces the launch line binds to (in a private network namespace)');
}

/** Boot, log in, run the checks, print them; exit code 1 when one failed. `builtPassword`: from the build that just ran (`build --test`). */
export async function testCommand(target: string, o: TestFlags, builtPassword?: string): Promise<void> {
  // Interrupts unwind the boot; until then (the password prompt included) they end the process as usual.
  const { terminalAsker, test } = await import('../api/test.js');
  const { checkSummary } = await import('../api/report.js');
  const interrupted = interrupts();
  let r: BootTestResult;
  try {
    r = await test(target, {
      login: o.login,
      builtPassword,
      asker: terminalAsker,
      hostname: o.hostname,
      expect: o.expect,
      timeoutS: Number(o.timeout),
      network: o.network,
      signal: interrupted.signal,
      log: (l) => out(`  ${redact(l)}`),
      onBoot: (img) => {
        // Checked here, once the image and login are known (before the API's own check): the message names the option.
        if (!(Number(o.timeout) > 0)) throw new RecipeError([{ file: '--timeout', path: o.timeout, message: 'must be a positive number of seconds' }]);
        out(img.hostfsRoot ? `booting ${img.hostfsRoot} with hostfs (the guest writes into the tree)` : `booting ${img.cow ?? img.image} (on a throw-away COW layer)`);
        interrupted.start();
      },
    });
  } finally {
    interrupted.stop();
  }
  const timing = r.loginPromptS !== undefined ? `login prompt after ${r.loginPromptS.toFixed(1)} s${r.shellS !== undefined ? `, shell after ${r.shellS.toFixed(1)} s` : ''}` : 'no login prompt';
  out(`${r.ok ? 'PASS' : 'FAIL'}: ${checkSummary(r.checks).text}; ${timing}`);
  if (!r.ok) process.exitCode = EXIT.buildFailed;
}

export function testCli(p: Command): void {
  addTestOptions(p.command('test').description('boot a built image on a throw-away COW layer, log in and run checks').argument('<image|outdir>')).action((target: string, o: TestFlags) => testCommand(target, o));
}
