/**
 * `test()`: boot a built image on a throw-away COW layer, log in and run the
 * checks. `umlbuild test` (and `build --test`) call this same function; what
 * only a command line needs (its output, the password prompt on a terminal)
 * comes in through the options.
 */
import { RecipeError } from '../errors.js';
import { bootTest, type BootTestResult } from '../uml/boot-test.js';
import { type Asker, NO_TERMINAL, TERMINAL } from '../uml/credentials.js';
import { findBuiltImage } from '../uml/target.js';
import { kernelOption } from '../uml/kernel-file.js';
import { resolveLogin } from './login.js';

export type { Asker, BootTestResult };
/** Asks for a missing password on this process's terminal (no echo). */
export const terminalAsker: Asker = TERMINAL;

export interface TestOptions {
  /** USER or USER:PASSWORD (default: the recipe's test user and password). */
  login?: string;
  hostname?: string;
  /** Commands and what their output must match. */
  expect?: [string, RegExp][];
  timeoutS?: number;
  /** Create the interfaces the launch line binds to, in a private network namespace (root); default true. */
  network?: boolean;
  log?: (line: string) => void;
  signal?: AbortSignal;
  /** The password the build that just made the image resolved (in memory: --set and generated ones count). */
  builtPassword?: string;
  /** Who asks for a password nothing else gives; by default nobody (a library call never reads the terminal). */
  asker?: Asker;
  /** Boot with this UML kernel file instead of the image's own (or `linux` from PATH); its config is checked when one is beside it (PATH.config, or the .config of its build tree). */
  kernel?: string;
  /** Called once the image and login are known, just before booting (it may throw to stop): what is booted. */
  onBoot?: (img: { image: string; cow?: string; hostfsRoot?: string }) => void;
}

/** Boot a built image (or output directory, or COW file) on a throw-away COW layer, log in and run the checks. */
export async function test(target: string, o: TestOptions = {}): Promise<BootTestResult> {
  const img = await findBuiltImage(target);
  // Without an asker a missing password is an error that says how to give it.
  const { user, password } = await resolveLogin(img, o.login, process.env, o.builtPassword === undefined ? undefined : { password: o.builtPassword }, o.asker ?? NO_TERMINAL);
  o.signal?.throwIfAborted();
  o.onBoot?.(img);
  const timeoutS = o.timeoutS ?? 120;
  if (!(timeoutS > 0)) throw new RecipeError([{ file: 'timeoutS', path: String(timeoutS), message: 'must be a positive number of seconds' }]);
  return bootTest(img, { user, password, hostname: o.hostname, expect: o.expect ?? [], timeoutS, isolateNetwork: o.network ?? true, log: o.log, signal: o.signal, kernel: o.kernel === undefined ? undefined : kernelOption(o.kernel) });
}
