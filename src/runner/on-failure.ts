/**
 * `--on-failure`: what a build does when one of its steps fails, before the
 * teardown.
 *
 * - `cleanup` (the default): tear everything down at once.
 * - `shell` (on a terminal only): open an interactive shell in the chroot of
 *   the half-built root, with /proc, /sys, /dev and /dev/pts mounted as a
 *   `run` step has them (host/chroot); the build tears down when the shell
 *   exits. A root that has no /bin/sh yet (the failure came before a
 *   bootstrap or a copy put one there) gets the host's shell with the root as
 *   its working directory (and in $ROOTFS), and says so; a failure before any
 *   root existed opens no shell, and says so.
 * - `keep`: leave the root tree, the image, its loop device and mounts in
 *   place, recorded in the journal and marked kept (host/journal), print them,
 *   and exit: `umlbuild cleanup` releases them (the next build's start leaves
 *   them alone). Locks, cache files being written, UML instances and network
 *   namespaces are released as usual.
 *
 * An interrupt (Ctrl-C, SIGTERM) during the steps always tears down; SIGTERM
 * while the shell runs ends the shell, then tears down (exit 143).
 */
import { existsSync } from 'node:fs';
import { lstat, stat } from 'node:fs/promises';
import { isAbsolute } from 'node:path';
import { EXIT, InterruptedError, UserError } from '../errors.js';
import { openChroot } from '../host/chroot.js';
import { spawn } from '../host/exec.js';
import type { Resource } from '../host/journal.js';
import { resolveInRoot } from '../host/rootfs-path.js';
import type { KeepChoice, Teardown, TeardownFailure } from '../host/teardown.js';

export { ON_FAILURE, type OnFailure } from '../model/on-failure.js';
import { ON_FAILURE, type OnFailure } from '../model/on-failure.js';

/** `shell` needs a person at a terminal: refused (exit 2) before anything is built when stdin or stdout is not one. */
export function checkOnFailure(mode: OnFailure, tty = { stdin: Boolean(process.stdin.isTTY), stdout: Boolean(process.stdout.isTTY) }): void {
  if (!(ON_FAILURE as readonly string[]).includes(mode)) throw new UserError(`--on-failure ${mode}: use one of ${ON_FAILURE.join(', ')}`, EXIT.invalid);
  if (mode === 'shell' && !(tty.stdin && tty.stdout)) {
    throw new UserError(`--on-failure shell opens an interactive shell and needs a terminal, but ${tty.stdin ? 'stdout' : 'stdin'} is not one: run it at a terminal, or use --on-failure keep and look inside afterwards`, EXIT.invalid);
  }
}

/** An executable regular file at /bin/sh inside `root`, resolved as chroot would. */
async function hasShell(root: string): Promise<boolean> {
  const host = await resolveInRoot(root, '/bin/sh').catch(() => undefined);
  const st = host ? await stat(host).catch(() => undefined) : undefined;
  return Boolean(st?.isFile() && st.mode & 0o111);
}

/**
 * The shell for `--on-failure shell`, opened after the failed step and
 * before the teardown; resolves when it exits. Everything it mounts is on
 * the teardown stack (and in the journal) like a run step's.
 */
export async function failureShell(root: string | undefined, teardown: Teardown, failed: string, say: (line: string) => void, signal?: AbortSignal): Promise<void> {
  if (!root || !existsSync(root)) {
    say(`${failed} before there was a root tree: no shell to open (--on-failure shell); tearing the build down`);
    return;
  }
  const env = { TERM: process.env.TERM ?? 'dumb', ROOTFS: root };
  let shell: { cmd: string; args: string[]; cwd?: string };
  let close: () => Promise<void> = async () => undefined;
  if (await hasShell(root)) {
    const session = await openChroot(root, teardown);
    close = () => session.close();
    say(`${failed}. --on-failure shell: a shell in the chroot of the half-built root ${root} (/proc, /sys, /dev and /dev/pts mounted, as a run step has them).`);
    shell = { cmd: 'chroot', args: [root, '/bin/sh', '-i'] };
  } else {
    const host = process.env.SHELL && isAbsolute(process.env.SHELL) && existsSync(process.env.SHELL) ? process.env.SHELL : '/bin/sh';
    say(`${failed}. --on-failure shell: the half-built root ${root} has no /bin/sh to chroot into yet, so this is a shell ON THE HOST, in the root's directory ($ROOTFS).`);
    shell = { cmd: host, args: ['-i'], cwd: root };
  }
  say('Exiting the shell (exit or Ctrl-D) tears the build down.');
  try {
    const { child, exited } = spawn(shell.cmd, shell.args, { env: { ...env, PS1: '(umlbuild: failed build) # ' }, cwd: shell.cwd, inherit: true });
    // SIGTERM ends the shell (an interactive shell ignores SIGTERM: SIGHUP, as when its terminal goes), then the build tears down.
    // Ctrl-C is the shell's: an interactive shell takes the terminal's foreground, and a SIGINT that reaches umlbuild is ignored here.
    const onAbort = () => {
      if (!(signal?.reason instanceof InterruptedError && signal.reason.signal === 'SIGTERM')) return;
      child.kill('SIGHUP');
      setTimeout(() => child.kill('SIGKILL'), 3000).unref();
    };
    signal?.addEventListener('abort', onAbort);
    const r = await exited.finally(() => signal?.removeEventListener('abort', onAbort));
    say(`the shell exited${r.signal ? ` (${r.signal})` : ''}: tearing the build down`);
  } finally {
    // What the shell left running in the root goes before its mounts do.
    await close();
  }
}

const keptName = (r: Resource): string => {
  switch (r.kind) {
    case 'loop':
      return `loop device ${r.device} (backed by ${r.file})`;
    case 'mount':
      return `mount ${r.path}`;
    case 'tree':
      return `tree ${r.path}`;
    case 'file':
      return `file ${r.path}`;
    default:
      return JSON.stringify(r);
  }
};

/**
 * `--on-failure keep`: leave the tree, the partial image, its loop device
 * and mounts, release the rest; the lines to print (what was kept, and that
 * `umlbuild cleanup` releases it) and what could not be released.
 */
export async function keepForInspection(teardown: Teardown, partialImage: string, failed: string): Promise<{ lines: string[]; failures: TeardownFailure[] }> {
  const exists = async (path: string): Promise<KeepChoice> => ((await lstat(path).catch(() => undefined)) ? 'keep' : 'gone');
  const { kept, failures } = await teardown.keep((r) => {
    switch (r.kind) {
      case 'tree':
      case 'mount':
        return exists(r.path);
      case 'loop':
        return 'keep';
      case 'file':
        // The image being built; any other file (a cache entry being written) is released.
        return r.path === partialImage ? exists(r.path) : 'release';
      default:
        return 'release';
    }
  });
  if (!kept.length) return { lines: [`${failed}; --on-failure keep: it had made nothing to keep`], failures };
  const journal = teardown.journal?.file;
  return {
    lines: [`${failed}; --on-failure keep: left in place for inspection:`, ...kept.map((r) => `  ${keptName(r)}`), `\`umlbuild cleanup\` releases them${journal ? ` (journal ${journal})` : ''}.`],
    failures,
  };
}
