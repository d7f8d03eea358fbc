/**
 * Rootless builds. An ordinary user cannot mount or chroot, but inside a user
 * namespace (with its own mount and pid namespaces) the user is root over the
 * files it maps: uid 0 is the user, uids 1..65535 come from its range in
 * /etc/subuid. umlbuild re-runs itself there, so steps that chroot (password,
 * run) and mmdebstrap work as they do for root, and every mount it makes
 * vanishes with the namespace, even after SIGKILL. Loop devices still need
 * real root: recipes that mount an image say so before anything is created.
 */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { exec, spawn } from './exec.js';
import { findTool, packageFor } from './tools.js';
import { journalDir } from './state-dirs.js';

export interface IdRange {
  start: number;
  count: number;
}

/** The first range of `user` (name or uid) in an /etc/subuid-style file. */
export function subordinateRange(text: string, user: string, uid: number): IdRange | undefined {
  for (const line of text.split('\n')) {
    const [who, start, count] = line.trim().split(':');
    if ((who === user || who === String(uid)) && start && count) return { start: Number(start), count: Number(count) };
  }
  return undefined;
}

export interface RootlessSupport {
  ok: boolean;
  /** What is missing, or how the namespace maps ids. */
  detail: string;
  uids?: IdRange;
  gids?: IdRange;
}

let checked: Promise<RootlessSupport> | undefined;

/** Whether this user can build without root here, and why not (asked once). */
export function rootlessSupport(): Promise<RootlessSupport> {
  checked ??= checkRootless();
  return checked;
}

async function checkRootless(): Promise<RootlessSupport> {
  const { username, uid } = userInfo();
  for (const tool of ['unshare', 'newuidmap', 'newgidmap']) {
    if (!(await findTool(tool))) return { ok: false, detail: `${tool} is missing (package ${packageFor(tool)})` };
  }
  const max = await readFile('/proc/sys/user/max_user_namespaces', 'utf8').catch(() => '0');
  if (Number(max) === 0) return { ok: false, detail: 'user namespaces are disabled (sysctl user.max_user_namespaces = 0)' };
  const uids = subordinateRange(await readFile('/etc/subuid', 'utf8').catch(() => ''), username, uid);
  const gids = subordinateRange(await readFile('/etc/subgid', 'utf8').catch(() => ''), username, uid);
  if (!uids || !gids) return { ok: false, detail: `${username} has no subordinate id range in /etc/subuid and /etc/subgid (usermod --add-subuids 100000-165535 --add-subgids 100000-165535 ${username})` };
  if (uids.count < 65535 || gids.count < 65535) return { ok: false, detail: `${username}'s subordinate range is smaller than 65535 ids` };
  const probe = await exec('unshare', [...mapArgs(uids, gids), 'true'], { reject: false });
  if (probe.exitCode !== 0) return { ok: false, detail: `unshare cannot create a user namespace here: ${probe.stderr.trim().split('\n').pop()}` };
  return { ok: true, detail: `${username}: uid 0 = ${uid}, 1-65535 = ${uids.start}-${uids.start + 65534}`, uids, gids };
}

function mapArgs(uids: IdRange, gids: IdRange): string[] {
  return ['--map-root-user', `--map-users=${uids.start},1,65535`, `--map-groups=${gids.start},1,65535`];
}

/**
 * Run this same command line again inside a new user, mount and pid
 * namespace, with the terminal, and return its exit code. SIGINT and SIGTERM
 * are passed to the inner umlbuild (unshare itself ignores them), which
 * unwinds as it would outside.
 */
export async function rerunInUserns(support: RootlessSupport): Promise<number> {
  const args = [...mapArgs(support.uids!, support.gids!), '--mount', '--pid', '--fork', '--mount-proc', '--kill-child=SIGTERM', '--', process.execPath, ...process.execArgv, ...process.argv.slice(1)];
  const env = Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => e[1] !== undefined));
  // Journals stay where this user's cleanup looks (host/journal).
  env.UMLBUILD_JOURNAL_DIR ??= journalDir();
  const { child, exited } = spawn('unshare', args, { env, inherit: true });
  const forward = (sig: NodeJS.Signals) => () => {
    const inner = innerPid(child.pid);
    if (inner) process.kill(inner, sig);
  };
  const onInt = forward('SIGINT');
  const onTerm = forward('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  try {
    const r = await exited;
    return r.exitCode ?? (r.signal === 'SIGINT' ? 130 : 143);
  } finally {
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
  }
}

function innerPid(pid: number | undefined): number | undefined {
  if (!pid) return undefined;
  try {
    const kids = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/);
    return kids[0] ? Number(kids[0]) : undefined;
  } catch {
    return undefined;
  }
}
