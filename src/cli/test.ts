/** `umlbuild test`: the library's test(), with its progress and the password prompt on the terminal. */
import { type Command, Option } from 'commander';
import { EXIT, RecipeError, redact } from '../api/basics.js';
import { ENV, withDetails } from './help.js';
import { collectExpect, interrupts, out } from './options.js';

export interface TestFlags {
  login?: string;
  expect?: [string, RegExp][];
  timeout: string;
  hostname?: string;
  network: boolean;
  kernel?: string;
}

/** Boot, log in, run the checks, print them; exit code 1 when one failed. `builtPassword`: from the build that just ran (`build --test`). */
export async function testCommand(target: string, o: TestFlags, builtPassword?: string, print: (line: string) => void = out): Promise<void> {
  // Interrupts unwind the boot; until then (the password prompt included) they end the process as usual.
  const interrupted = interrupts();
  const { terminalAsker, test } = await import('../api/test.js');
  const { checkSummary } = await import('../api/report.js');
  let r: Awaited<ReturnType<typeof test>>;
  try {
    r = await test(target, {
      login: o.login,
      builtPassword,
      asker: terminalAsker,
      hostname: o.hostname,
      expect: o.expect ?? [],
      timeoutS: Number(o.timeout),
      network: o.network,
      kernel: o.kernel,
      signal: interrupted.signal,
      log: (l) => print(`  ${redact(l)}`),
      onBoot: (img) => {
        // Checked here, once the image and login are known (before the API's own check): the message names the option.
        if (!(Number(o.timeout) > 0)) throw new RecipeError([{ file: '--timeout', path: o.timeout, message: 'must be a positive number of seconds' }]);
        print(img.hostfsRoot ? `booting ${img.hostfsRoot} with hostfs (the guest writes into the tree)` : `booting ${img.cow ?? img.image} (on a throw-away COW layer)`);
        interrupted.start();
      },
    });
  } finally {
    interrupted.stop();
  }
  const timing = r.loginPromptS !== undefined ? `login prompt after ${r.loginPromptS.toFixed(1)} s${r.shellS !== undefined ? `, shell after ${r.shellS.toFixed(1)} s` : ''}` : 'no login prompt';
  print(`${r.ok ? 'PASS' : 'FAIL'}: ${checkSummary(r.checks).text}; ${timing}`);
  if (!r.ok) process.exitCode = EXIT.buildFailed;
}

export function testCli(p: Command): void {
  const c = p
    .command('test')
    .summary('boot a built image on a throw-away COW layer, log in and run checks')
    .description('boot a built image on a throw-away COW layer, log in and run checks: hostname, root device, modules, network device, expectations')
    .argument('<image|outdir>', 'an image umlbuild built, its output directory, or a COW file made for it')
    .option('--login <user[:password]>', "log in as this user (default: the recipe's test user and password)")
    .option('--expect <command=regex>', 'also run COMMAND and match its output against REGEX, split at the last = (repeatable)', collectExpect)
    .addOption(new Option('--timeout <seconds>', 'how long to wait for the login prompt').default('120', '120'))
    .option('--hostname <name>', 'expect this hostname instead of the recipe one')
    .option('--no-network', 'do not create the interfaces the launch line binds to (in a private network namespace)')
    .option('--kernel <path>', "boot with this UML kernel instead of the image's own (or linux from PATH); a config beside it (PATH.config, or the .config of its build tree) is checked against what the launch needs")
    .action((target: string, o: TestFlags) => testCommand(target, o));
  withDetails(c, {
    examples: [
      ['umlbuild test out/', 'asks for the password on a terminal when nothing else gives it'],
      ['umlbuild test out/ --login root:change-me --expect "uname -r=^6\\."', 'log in with this password and check one more command'],
      ['umlbuild test out/ --kernel ~/linux/linux', 'try the image with a kernel from a build tree (its .config is checked first)'],
    ],
    env: [ENV.testPassword, ['UMLBUILD_VAR_<NAME>', "a secret variable the recipe's test password uses (--set or generated at build time)"]],
  });
}
