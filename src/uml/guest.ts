/**
 * Who runs UML. A guest is untrusted (DESIGN.md, "Threat model"): whatever an
 * image's init does, the host must not be reachable with more than an
 * unprivileged user's rights. So when umlbuild runs as root, the `linux`
 * process runs as the dedicated system user `umlbuild-guest` (created on
 * first use with `useradd --system`, reported by `doctor`), through util-linux
 * `setpriv`: no supplementary groups, no capabilities (CAP_NET_RAW alone, as
 * an ambient capability, when a raw or hybrid transport needs it inside the
 * private network namespace), no_new_privs. A named user rather than a fixed
 * numeric uid: useradd picks an id nobody else has, now and later, and the
 * files UML creates carry a name an administrator recognises.
 *
 * Files UML needs but cannot reach by path (an image under a 0700 directory)
 * are opened by umlbuild and inherited as file descriptors (`/dev/fd/N`):
 * that bypasses the directories' search permission, not the file's own mode,
 * so no permission is widened. Not root: UML runs as the invoking user.
 */
import { constants } from 'node:fs';
import { open, stat, type FileHandle } from 'node:fs/promises';
import { EXIT, HostError, UserError } from '../errors.js';
import { exec } from '../host/exec.js';
import { isRoot, requireTools } from '../host/tools.js';

export const GUEST_USER = 'umlbuild-guest';

export interface RunAs {
  name: string;
  uid: number;
  gid: number;
}

export async function lookupUser(nameOrId: string): Promise<RunAs | undefined> {
  const r = await exec('getent', ['passwd', nameOrId], { reject: false });
  const [name, , uid, gid] = r.stdout.trim().split(':');
  return r.exitCode === 0 && name && uid && gid ? { name, uid: Number(uid), gid: Number(gid) } : undefined;
}

/** The dedicated guest user, created if missing; undefined when umlbuild is not root (no change of user). */
export async function guestUser(): Promise<RunAs | undefined> {
  if (!isRoot()) return undefined;
  await requireTools(['getent', 'useradd', 'setpriv'], `running UML as the system user ${GUEST_USER}`);
  const found = await lookupUser(GUEST_USER);
  if (found) return found;
  const shell = '/usr/sbin/nologin';
  // A concurrent umlbuild may create it first: look again either way.
  await exec('useradd', ['--system', '--user-group', '--no-create-home', '--home-dir', '/nonexistent', '--shell', shell, '--comment', 'umlbuild UML guests', GUEST_USER], { reject: false });
  const made = await lookupUser(GUEST_USER);
  if (!made) throw new HostError(`could not create the system user ${GUEST_USER} that runs UML guests (useradd --system ${GUEST_USER})`, ['passwd']);
  if (made.uid === 0 || made.gid === 0) throw new HostError(`${GUEST_USER} has uid or gid 0: it must be an unprivileged user`, []);
  return made;
}

/**
 * The user that boots a hostfs root tree as root: the tree's owner (the guest
 * writes into the tree with its rights: `build --owner USER`). A tree owned by
 * root is refused: its guest would write the host as root.
 */
export async function treeOwner(tree: string, manifestFile: string): Promise<RunAs | undefined> {
  if (!isRoot()) return undefined;
  const st = await stat(tree);
  if (st.uid === 0) {
    throw new UserError(`${manifestFile}: its hostfs root ${tree} belongs to root: a hostfs root is booted as its owner, and umlbuild does not run guests as root; build it with --owner USER (the user who will run UML)`, EXIT.invalid);
  }
  return (await lookupUser(String(st.uid))) ?? { name: String(st.uid), uid: st.uid, gid: st.gid };
}

export type GuestCap = 'net_raw';

/** `argv` run as `who` (unchanged when undefined), with only `caps`. */
export function asGuest(argv: readonly string[], who: RunAs | undefined, caps: readonly GuestCap[] = []): string[] {
  if (!who) return [...argv];
  const set = ['-all', ...caps.map((c) => `+${c}`)].join(',');
  return [
    'setpriv',
    `--reuid=${who.uid}`,
    `--regid=${who.gid}`,
    '--clear-groups',
    `--inh-caps=${set}`,
    ...(caps.length ? [`--ambient-caps=${caps.map((c) => `+${c}`).join(',')}`] : []),
    `--bounding-set=${set}`,
    '--no-new-privs',
    '--',
    ...argv,
  ];
}

/**
 * Open a file (regular file or, with `dir`, a directory) for UML to inherit,
 * without following a link; refuse one `who` could not read (write, or with
 * `execute` run: a kernel binary) by its mode.
 */
export async function openForGuest(path: string, who: RunAs | undefined, what: string, dir = false, write = false, execute = false): Promise<FileHandle> {
  const fh = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | (dir ? constants.O_DIRECTORY : 0)).catch((e: NodeJS.ErrnoException) => {
    throw new UserError(`${what} ${path}: cannot open it (${e.code === 'ELOOP' ? 'it is a symbolic link' : e.code})`);
  });
  try {
    const st = await fh.stat();
    if (dir ? !st.isDirectory() : !st.isFile()) throw new UserError(`${what} ${path} is not a ${dir ? 'directory' : 'regular file'}`);
    if (who) {
      const shift = st.uid === who.uid ? 6 : st.gid === who.gid ? 3 : 0;
      const need = ((write ? 6 : 4) | (execute ? 1 : 0)) << shift;
      if ((st.mode & need) !== need) {
        const mode = (st.mode & 0o7777).toString(8).padStart(4, '0');
        const how = write ? 'writable' : execute ? 'readable and executable' : 'readable';
        throw new UserError(
          `${what} ${path} is not ${how} by ${who.name}, the user UML runs as (mode ${mode}, owner ${st.uid}); make it ${how} by that user (without widening it for others: chown or an ACL), or run umlbuild as the user who owns it`,
        );
      }
    }
    return fh;
  } catch (e) {
    await fh.close();
    throw e;
  }
}
