/** `umlbuild lab up|test|down|status|exec|console`: labs of UML machines wired into networks (the library's api/lab.ts). */
import { type Command, Option } from 'commander';
import { EXIT, redact, UserError } from '../api/basics.js';
import { ENV, withDetails } from './help.js';
import { interrupts, out, withInterrupts } from './options.js';

const LAB_ARG = ['<lab>', 'a lab file (YAML) or a Netkit lab directory (lab.conf); for a lab that is up, also its name'] as const;
const imageOption = () => new Option('--image <image>', 'a Netkit lab: the image (built by umlbuild) its machines boot');
const recipeOption = () => new Option('--recipe <recipe>', 'a Netkit lab: the recipe (shipped name or file) its machines boot (default: busybox)');
const uplinkOption = () => new Option('--allow-uplink', "let segments that declare an uplink join that host bridge (the lab's machines then reach this host's network)");
/** The options of the commands that may bring a lab up (up, test). */
function bringUpOptions(cmd: Command): void {
  for (const o of [timeoutOption(), imageOption(), recipeOption(), uplinkOption()]) cmd.addOption(o);
}
const timeoutOption = () => new Option('--timeout <seconds>', "how long to wait for each machine's login prompt").default('120', '120');

function seconds(value: string, option: string): number {
  const n = Number(value);
  if (!(n > 0)) throw new UserError(`${option} ${value}: must be a positive number of seconds`, EXIT.invalid);
  return n;
}

/** Bring the lab up; interrupts release everything it made. */
async function up(path: string, o: { timeout: string; image?: string; recipe?: string; allowUplink?: boolean }): Promise<void> {
  const api = await import('../api/lab.js');
  const lab = await api.readLab(path, { image: o.image, recipe: o.recipe });
  const timeoutS = seconds(o.timeout, '--timeout');
  const t0 = Date.now();
  await withInterrupts((signal) => api.upLab(lab, { log: (l) => out(`  ${redact(l)}`), signal, asker: api.labTerminalAsker, timeoutS, allowUplink: o.allowUplink }));
  out(`lab ${lab.name} is up: ${lab.machines.length} machine(s) in ${((Date.now() - t0) / 1000).toFixed(1)} s (umlbuild lab status ${lab.name}; umlbuild lab down ${lab.name})`);
}

async function test(path: string, o: { timeout: string; image?: string; recipe?: string; allowUplink?: boolean }): Promise<void> {
  const api = await import('../api/lab.js');
  const timeoutS = seconds(o.timeout, '--timeout');
  const onResult = (c: { ok: boolean; name: string; detail: string; seconds: number }) => out(redact(api.checkLine(c)));
  // A lab that is up, named: its checks as it was brought up. Else the lab file's (brought up for them when it is not up).
  const named = await api.upLabName(path);
  const r = await withInterrupts(async (signal) =>
    named
      ? api.testUpLab(named, { signal, onResult })
      : api.testLab(await api.readLab(path, { image: o.image, recipe: o.recipe }), { log: (l) => out(`  ${redact(l)}`), signal, asker: api.labTerminalAsker, timeoutS, onResult, allowUplink: o.allowUplink }),
  );
  const failed = r.results.filter((c) => !c.ok).map((c) => c.name);
  out(failed.length ? `FAIL: ${failed.length} of ${r.results.length} checks failed: ${failed.join(', ')}` : `PASS: ${r.results.length} of ${r.results.length} checks passed`);
  if (failed.length) process.exitCode = EXIT.buildFailed;
}

async function down(path: string): Promise<void> {
  const api = await import('../api/lab.js');
  const name = await api.labNameOf(path);
  const r = await api.downLab(name, (l) => out(`  ${l}`));
  out(`lab ${name} is down (${r.stopped.length} machine(s) stopped)`);
}

async function status(path: string): Promise<void> {
  const api = await import('../api/lab.js');
  const name = await api.labNameOf(path);
  const s = await api.statusLab(name);
  out(`lab ${name} (${s.state.file}), network namespace ${s.state.netns}`);
  out(`${'MACHINE'.padEnd(16)} ${'PID'.padStart(7)}  ${'STATE'.padEnd(8)} ${'UPTIME'.padStart(8)}  CONSOLE`);
  for (const m of s.machines) out(`${m.name.padEnd(16)} ${String(m.pid).padStart(7)}  ${(m.running ? 'running' : 'stopped').padEnd(8)} ${`${Math.round(m.uptimeS)} s`.padStart(8)}  ${m.pts}`);
  if (s.machines.some((m) => !m.running)) process.exitCode = EXIT.buildFailed;
}

async function execCommand(path: string, machine: string, words: string[], o: { timeout?: string }): Promise<void> {
  if (!words.length) throw new UserError('lab exec: give the command after --: umlbuild lab exec LAB MACHINE -- COMMAND...', EXIT.invalid);
  const api = await import('../api/lab.js');
  const name = await api.labNameOf(path);
  const timeoutS = o.timeout === undefined ? undefined : seconds(o.timeout, '--timeout');
  const i = interrupts();
  i.start();
  try {
    const r = await api.execLab(name, machine, words.join(' '), { timeoutS, signal: i.signal });
    if (r.output) out(r.output);
    process.exitCode = r.status;
  } finally {
    i.stop();
  }
}

async function consoleCommand(path: string, machine: string): Promise<void> {
  if (!process.stdin.isTTY || !process.stdout.isTTY) throw new UserError('lab console needs a terminal (stdin and stdout); use `umlbuild lab exec` from scripts', EXIT.invalid);
  const api = await import('../api/lab.js');
  const name = await api.labNameOf(path);
  process.stderr.write(`umlbuild: ${machine}'s console (detach with Ctrl-])\n`);
  await api.consoleLab(name, machine, { input: process.stdin, output: process.stdout });
  process.stderr.write('\numlbuild: detached\n');
}

export function labCli(p: Command): void {
  const lab = p.command('lab').description('labs: several UML machines wired into networks, booted, checked and torn down together: up, test, down, status, exec, console');
  withDetails(lab, {
    examples: [
      ['umlbuild lab test labs/routed', 'bring the lab up, run its checks, take it down (CI)'],
      ['umlbuild lab up labs/routed && umlbuild lab exec labs/routed a -- ping -c 1 10.0.2.2', 'bring it up and use it'],
    ],
  });
  const upCmd = lab
    .command('up')
    .description("boot the lab's machines in a private network namespace, log in, configure them, run their startup")
    .argument(...LAB_ARG)
    .action(up);
  bringUpOptions(upCmd);
  withDetails(upCmd, { examples: [['umlbuild lab up labs/routed', 'Ctrl-C while it comes up releases everything']], env: [ENV.testPassword, ENV.journal] });
  const testCmd = lab
    .command('test')
    .description("run the lab's checks, one line each; a lab that is not up is brought up for them and taken down after")
    .argument(...LAB_ARG)
    .action(test);
  bringUpOptions(testCmd);
  withDetails(testCmd, { examples: [['umlbuild lab test labs/routed', 'exit code 0 only when every check passed, else 1 naming the failed ones']], env: [ENV.testPassword, ENV.journal] });
  const downCmd = lab
    .command('down')
    .description('stop every machine (sync, remount read-only, halt; killed after a timeout), delete the network, remove the COW files')
    .argument(...LAB_ARG)
    .action(down);
  withDetails(downCmd, { examples: [['umlbuild lab down labs/routed']] });
  const statusCmd = lab
    .command('status')
    .description("the lab's machines: pid, state, uptime, console")
    .argument(...LAB_ARG)
    .action(status);
  withDetails(statusCmd, { examples: [['umlbuild lab status labs/routed', 'exit code 1 when a machine stopped']] });
  const execCmd = lab
    .command('exec')
    .description('run a command as root on a machine of a lab that is up; prints its output, exits with its status')
    .argument(...LAB_ARG)
    .argument('<machine>', 'the machine')
    .argument('<command...>', 'the command (after --), run by the machine shell')
    .option('--timeout <seconds>', 'give up after this long (default: an hour)')
    .action(execCommand);
  withDetails(execCmd, { examples: [['umlbuild lab exec labs/routed a -- ip route', "a's routing table"]] });
  const consoleCmd = lab
    .command('console')
    .description("attach this terminal to a machine's console (raw); detach with Ctrl-] (typing exit logs the shell out that exec uses)")
    .argument(...LAB_ARG)
    .argument('<machine>', 'the machine')
    .action(consoleCommand);
  withDetails(consoleCmd, { examples: [['umlbuild lab console labs/routed r', 'a root shell on the router; Ctrl-] to detach']] });
}
