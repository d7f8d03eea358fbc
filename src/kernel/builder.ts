/**
 * Who runs a kernel build, and where. A kernel tree the user points at is
 * outside input (DESIGN.md, "Threat model"), and building it runs its
 * Makefiles: so when umlbuild is root, `make` (and git on that tree) runs as
 * the dedicated system user `umlbuild-build` through setpriv (no groups, no
 * capabilities, no_new_privs), in a private mount and pid namespace
 * (`unshare --mount --pid --fork --kill-child`): the source is bind-mounted
 * read-only at /run/umlbuild-kernel/src, the build directory (owned by
 * umlbuild-build) and the ccache directory at .../build and .../ccache. So
 * the build user reaches them whatever the cache's parent directories allow
 * (root's cache is under /root, mode 0700), it cannot write the source, the
 * paths compiled into the kernel are the same for every build (ccache hits
 * across entries), and when the build stops or is interrupted every process
 * it started dies with the namespace. Root only copies results out, never
 * following a link.
 *
 * Why not the guest user (uml/guest.ts umlbuild-guest): guests run as that
 * user and are untrusted too; a guest must not be able to write a build
 * directory whose output root then installs into images. A separate user
 * keeps the two apart. Not root: everything runs as the invoking user, in
 * place.
 */
import { lstat, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { HostError, UserError } from '../errors.js';
import { exec } from '../host/exec.js';
import { privilege } from '../host/privilege.js';
import { requireTools } from '../host/tools.js';
import { asGuest, lookupUser, type RunAs } from '../uml/guest.js';

export const BUILD_USER = 'umlbuild-build';
/** Where the source, build and ccache directories appear to a root build's make. */
export const BUILD_MOUNTS = '/run/umlbuild-kernel';

/** The build user (created on first use like the guest user); undefined when umlbuild is not real root (root in a user namespace builds as itself: it has no host privilege to drop). */
export async function buildUser(): Promise<RunAs | undefined> {
  if (privilege() !== 'root') return undefined;
  await requireTools(['getent', 'useradd', 'setpriv', 'unshare', 'mount'], `building a kernel as the system user ${BUILD_USER}`);
  const found = await lookupUser(BUILD_USER);
  if (found) return checked(found);
  await exec('useradd', ['--system', '--user-group', '--no-create-home', '--home-dir', '/nonexistent', '--shell', '/usr/sbin/nologin', '--comment', 'umlbuild kernel builds', BUILD_USER], { reject: false });
  const made = await lookupUser(BUILD_USER);
  if (!made) throw new HostError(`could not create the system user ${BUILD_USER} that runs kernel builds (useradd --system ${BUILD_USER})`, ['passwd']);
  return checked(made);
}

function checked(u: RunAs): RunAs {
  if (u.uid === 0 || u.gid === 0) throw new HostError(`${BUILD_USER} has uid or gid 0: it must be an unprivileged user`, []);
  return u;
}

export interface Workspace {
  /** The kernel source tree (read-only to the build). */
  src: string;
  /** The build directory (make O=). */
  build: string;
  /** CCACHE_DIR. */
  ccache: string;
}

/** The mount points of a root build: root-owned, never a link. */
async function mountPoints(): Promise<void> {
  for (const d of [BUILD_MOUNTS, `${BUILD_MOUNTS}/src`, `${BUILD_MOUNTS}/build`, `${BUILD_MOUNTS}/ccache`]) {
    await mkdir(d, { mode: 0o755 }).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'EEXIST') throw e;
    });
    const st = await lstat(d);
    if (!st.isDirectory() || st.uid !== 0)
      throw new HostError(`${d} is ${st.isSymbolicLink() ? 'a symbolic link' : st.isDirectory() ? 'not owned by root' : 'not a directory'}: remove it (umlbuild mounts kernel build directories there)`, []);
  }
}

/**
 * The argv that runs `command` on `ws` as `who` (see above), and the paths
 * the command must use for the workspace. `who` undefined: as is, in place.
 */
export async function builderArgv(ws: Workspace, who: RunAs | undefined, command: (paths: Workspace) => string[]): Promise<string[]> {
  if (!who) return command(ws);
  await mountPoints();
  const at: Workspace = { src: `${BUILD_MOUNTS}/src`, build: `${BUILD_MOUNTS}/build`, ccache: `${BUILD_MOUNTS}/ccache` };
  const script = ['set -e', `mount --bind -- "$1" ${at.src}`, `mount -o remount,bind,ro -- ${at.src}`, `mount --bind -- "$2" ${at.build}`, `mount --bind -- "$3" ${at.ccache}`, `cd ${at.build}`, 'shift 3', 'exec "$@"'].join('\n');
  return ['unshare', '--mount', '--propagation', 'private', '--pid', '--fork', '--kill-child', '--', 'sh', '-c', script, 'sh', ws.src, ws.build, ws.ccache, ...asGuest(command(at), who)];
}

/** What `make kernelrelease` printed (its last line), refused unless it is a release: a name, never a path. */
export function checkRelease(printed: string, where: string): string {
  const release = printed.trim().split('\n').pop() ?? '';
  if (!/^[\w.+~-]+$/.test(release)) throw new UserError(`make kernelrelease${where} printed ${JSON.stringify(release.slice(0, 80))}: not a kernel release`);
  return release;
}

/**
 * lib/modules/<release> under `staging`, where an unprivileged `make
 * modules_install` wrote, once its processes are gone: every directory on the
 * way must be a directory, never a link (the Makefile is outside input: a
 * link would make root copy host files), and the build/source links
 * modules_install leaves are removed. Returns that directory.
 */
export async function modulesWritten(staging: string, release: string): Promise<string> {
  const modDir = join(staging, 'lib', 'modules', release);
  for (const d of [staging, join(staging, 'lib'), join(staging, 'lib', 'modules'), modDir]) {
    if (!(await lstat(d).catch(() => undefined))?.isDirectory()) throw new UserError(`make modules_install wrote no lib/modules/${release} (${d} is not a directory)`);
  }
  for (const link of ['build', 'source']) if ((await lstat(join(modDir, link)).catch(() => undefined))?.isSymbolicLink()) await rm(join(modDir, link));
  return modDir;
}
