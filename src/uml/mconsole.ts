/** The UML management console: sysrq, halt, version, through uml_mconsole. */
import { exec, type Spawned } from '../host/exec.js';
import { killTree, type ProcessIdentity, runsWith, sameProcess } from '../host/process-id.js';

export interface McontrolTarget {
  /** Path of the mconsole socket (uml_dir/umid/mconsole). */
  socket: string;
  /** Network namespace UML runs in: uml_mconsole must run there too (abstract reply socket). */
  netns?: string;
}

export async function mconsole(t: McontrolTarget, ...command: string[]): Promise<string> {
  const argv = ['uml_mconsole', t.socket, ...command];
  const [cmd, ...args] = t.netns ? ['ip', 'netns', 'exec', t.netns, ...argv] : argv;
  const { stdout } = await exec(cmd!, args, { timeoutMs: 15000 });
  return stdout;
}

/** Sync and remount read-only through sysrq, then halt. */
export async function haltCleanly(t: McontrolTarget): Promise<void> {
  await mconsole(t, 'sysrq', 's');
  await mconsole(t, 'sysrq', 'u');
  await mconsole(t, 'halt');
}

/**
 * Stop a UML instance this process started: a clean halt through the
 * management console, then SIGKILL to it and every process it made if it has
 * not exited after 10 s (1 s when the console did not answer: a UML caught
 * early in its boot has none yet). Killing only the first process would leave
 * UML's own children holding the console pipes, and this would wait forever.
 */
export async function stopUml(uml: Spawned, t: McontrolTarget): Promise<void> {
  const running = uml.child.exitCode === null && uml.child.signalCode === null;
  const halted = running
    ? await haltCleanly(t).then(
        () => true,
        () => false,
      )
    : true; // it may already be going down
  const pid = uml.child.pid;
  const timer = setTimeout(() => (pid ? killTree(pid) : uml.child.kill('SIGKILL')), halted ? 10000 : 1000);
  await uml.exited;
  clearTimeout(timer);
}

/**
 * Stop a UML instance that runs detached (a lab machine, maybe started by another umlbuild process), known by
 * its identity: the same clean halt, then SIGKILL to it and its processes after `timeoutS` (1 s when the console
 * did not answer). Nothing happens unless the pid is still that process, running `linux` with its umid.
 */
export async function stopDetached(id: ProcessIdentity, umid: string, t: McontrolTarget, timeoutS = 10): Promise<void> {
  const ours = () => sameProcess(id) && runsWith(id.pid, /^linux(\.uml)?$/, `umid=${umid}`);
  if (!ours()) return;
  const halted = await haltCleanly(t).then(
    () => true,
    () => false,
  );
  const until = Date.now() + (halted ? timeoutS : 1) * 1000;
  while (sameProcess(id) && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
  if (ours()) killTree(id.pid);
  for (let i = 0; i < 50 && sameProcess(id); i++) await new Promise((r) => setTimeout(r, 100));
}
