/**
 * Running commands inside a rootfs: /proc, /sys, /dev and /dev/pts mounted,
 * a policy-rc.d that keeps services from starting, and every mount released
 * when done (and registered on the teardown stack the moment it exists).
 * Processes the commands left running in the root are killed (and named in a
 * warning) before those mounts go.
 */
import type { Teardown } from './teardown.js';
import { exec, type ExecOptions, type ExecResult } from './exec.js';
import { mount, unmount } from './mount.js';
import { privilege } from './privilege.js';
import { stopProcessesIn } from './procs.js';
import { mkdirInRoot, readFileInRoot, removeInRoot, writeFileInRoot } from './rootfs-path.js';

const POLICY = '/usr/sbin/policy-rc.d';
const POLICY_TEXT = '#!/bin/sh\n# umlbuild: no services start while the image is built\nexit 101\n';

const binds = (): { path: string; source: string; args: string[] }[] => [
  { path: '/proc', source: 'proc', args: ['-t', 'proc'] },
  // A user namespace may not mount a new sysfs (host/userns): it binds the host's, read-only.
  privilege() === 'userns-root' ? { path: '/sys', source: '/sys', args: ['--rbind', '--make-rslave', '-o', 'ro'] } : { path: '/sys', source: 'sysfs', args: ['-t', 'sysfs'] },
  { path: '/dev', source: '/dev', args: privilege() === 'userns-root' ? ['--rbind', '--make-rslave'] : ['--bind', '--make-private'] },
  { path: '/dev/pts', source: 'devpts', args: ['-t', 'devpts', '-o', 'newinstance,ptmxmode=0666'] },
];

export interface ChrootSession {
  run(cmd: string, args: readonly string[], opts?: ExecOptions): Promise<ExecResult>;
  close(): Promise<void>;
}

/** Prepare `root` for chrooted commands; `close()` undoes everything. */
export async function openChroot(root: string, teardown: Teardown, opts: ExecOptions = {}): Promise<ChrootSession> {
  const entries: { release(): Promise<void> }[] = [];
  const close = async () => {
    const errors: unknown[] = [];
    // What the commands left running (setsid, daemons) goes before its /proc and /dev do.
    await stopProcessesIn(root, teardown.warn).catch((err) => errors.push(err));
    for (const e of entries.reverse()) await e.release().catch((err) => errors.push(err));
    entries.length = 0;
    if (errors.length) throw errors[0];
  };
  try {
    for (const b of binds()) {
      const target = await mkdirInRoot(root, b.path);
      await mount(b.source, target, b.args, opts);
      entries.push(teardown.defer(`unmount ${target}`, () => unmount(target), { resource: { kind: 'mount', path: target } }));
    }
    const existing = await readFileInRoot(root, POLICY);
    await writeFileInRoot(root, POLICY, POLICY_TEXT, { mode: 0o755 });
    entries.push(
      // Resolved again when restoring: the commands that ran may have changed links in the tree.
      teardown.defer(`restore ${POLICY}`, async () => {
        if (existing) await writeFileInRoot(root, POLICY, existing, { mode: 0o755 });
        else await removeInRoot(root, POLICY);
      }),
    );
  } catch (e) {
    await close().catch(() => undefined);
    throw e;
  }
  return {
    run: (cmd, args, runOpts = {}) => exec('chroot', [root, cmd, ...args], { ...opts, ...runOpts }),
    close,
  };
}
