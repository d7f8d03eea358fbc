/**
 * The teardown journal: what a running umlbuild holds (mounts, loop devices,
 * temporary trees and files, network namespaces, UML processes), written to a state file as
 * each is acquired and taken out as each is released, so that a build killed
 * with SIGKILL (or a crash) can be cleaned up later: `umlbuild cleanup`, and
 * the start of every build, release what dead builds left — and only that:
 * a loop device is detached only while it still backs the recorded file, and
 * nothing that is not in a journal is touched. A journal holds no argv or
 * environment (no secrets), and cleanup trusts a journal, and each resource in
 * it, only as far as journal-verify.ts allows.
 *
 * Location: /run/umlbuild as root, else $XDG_RUNTIME_DIR/umlbuild or
 * ~/.cache/umlbuild/run (a rootless build is told its user's place in
 * UMLBUILD_JOURNAL_DIR); one `<run id>.json` per running umlbuild.
 */
import { constants, mkdirSync, readdirSync, readlinkSync, realpathSync, rmSync } from 'node:fs';
import { lstat, open, readdir, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { journalDir } from './state-dirs.js';
import { exec } from './exec.js';
import { isMountPoint, unmount } from './mount.js';
import { removeTree } from './remove-tree.js';
import { RUN_ID } from './run-id.js';
import { alive, pidNamespace, readLock } from './lock-file.js';
import { killTree, runsWith, sameProcess } from './process-id.js';
import { writeReplacingSync } from './safe-write.js';
import { ownNetns, untrustedJournalPath, untrustedResourcePath } from './journal-verify.js';

export type Resource =
  | { kind: 'mount'; path: string }
  | { kind: 'loop'; device: string; file: string }
  | { kind: 'tree'; path: string }
  | { kind: 'file'; path: string }
  /** A lock file this process holds: removed by cleanup once the process is gone. */
  | { kind: 'lock'; path: string }
  | { kind: 'netns'; name: string }
  /** A UML instance: identified by pid + start time + boot id (pid reuse), killed only while it runs `linux` with umid=UMID. */
  | { kind: 'process'; pid: number; start: string; boot: string; umid: string };

interface State {
  pid: number;
  pidns: string;
  started: string;
  /** A failed build left these for inspection (`--on-failure keep`): only `umlbuild cleanup` releases them, not the next build. */
  kept?: boolean;
  resources: (Resource & { id: number })[];
}

/** A path with its directory's links resolved now (a link the user chose is fine; cleanup refuses one planted later). */
function canonicalPath(path: string): string {
  try {
    return join(realpathSync(dirname(path)), basename(path));
  } catch {
    return path;
  }
}

function canonical(r: Resource): Resource {
  if (r.kind === 'loop') return { ...r, file: canonicalPath(r.file) };
  return 'path' in r ? { ...r, path: canonicalPath(r.path) } : r;
}

/** The one state per journal file of this process, shared by every Journal on it (build, variants, artifacts). */
const states = new Map<string, { state: State; nextId: number }>();

/**
 * This process's journal. Written synchronously (temporary file + rename):
 * when defer() returns, the resource is on disk, so a SIGKILL right after
 * cannot lose it.
 */
export class Journal {
  private readonly shared: { state: State; nextId: number };
  readonly file: string;

  constructor(readonly dir = journalDir()) {
    this.file = join(dir, `${RUN_ID}.json`);
    const shared = states.get(this.file) ?? { state: { pid: process.pid, pidns: pidNamespace(), started: new Date().toISOString(), resources: [] }, nextId: 1 };
    states.set(this.file, shared);
    this.shared = shared;
  }

  private get state(): State {
    return this.shared.state;
  }

  /** Record a resource; returns the id to forget it by. */
  add(r: Resource): number {
    const id = this.shared.nextId++;
    this.state.resources.push({ ...canonical(r), id });
    this.save();
    return id;
  }

  forget(id: number): void {
    this.state.resources = this.state.resources.filter((r) => r.id !== id);
    this.save();
  }

  /** What is still recorded is left on purpose (`--on-failure keep`): the next build's start leaves it to `umlbuild cleanup`. */
  markKept(): void {
    this.state.kept = true;
    this.save();
  }

  /** The build is over: remove the state file if everything was released. */
  close(): void {
    this.save();
  }

  private save(): void {
    if (this.state.resources.length === 0) return void rmSync(this.file, { force: true });
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    writeReplacingSync(this.file, `${JSON.stringify(this.state, null, 2)}\n`, 0o600);
  }
}

/** Kill what still runs chrooted inside `path` (left by the dead build), so its mounts can go. */
function killInside(path: string): number {
  let killed = 0;
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const root = readlinkSync(`/proc/${pid}/root`);
      if (root === path || root.startsWith(`${path}/`)) {
        process.kill(Number(pid), 'SIGKILL');
        killed++;
      }
    } catch {
      /* gone, or not ours to read */
    }
  }
  return killed;
}

/** Why cleanup may not act on `r` (see journal-verify.ts), or undefined when it may. */
async function untrusted(r: Resource, state: State): Promise<string | undefined> {
  switch (r.kind) {
    case 'loop':
      if (!/^\/dev\/loop\d+$/.test(String(r.device))) return 'not a loop device';
      return untrustedResourcePath(r.file, state, 'file');
    case 'netns':
      return ownNetns(r.name, state) ? undefined : `not a network namespace of pid ${state.pid}`;
    case 'process':
      // Only a UML instance this run started: its umid carries the run id (`…-<pid>-<hex>…`).
      return Number.isInteger(r.pid) && typeof r.umid === 'string' && r.umid.includes(`-${state.pid}-`) ? undefined : `not a UML instance of pid ${state.pid}`;
    case 'mount':
    case 'tree':
    case 'file':
    case 'lock':
      return untrustedResourcePath(r.path, state, r.kind);
    default:
      return 'an unknown kind of resource';
  }
}

async function release(r: Resource, state: State, log: (line: string) => void): Promise<void> {
  switch (r.kind) {
    case 'mount': {
      if (!(await isMountPoint(r.path))) return;
      const killed = killInside(r.path);
      if (killed) log(`killed ${killed} process(es) still running inside ${r.path}`);
      await unmount(r.path);
      log(`unmounted ${r.path}`);
      return;
    }
    case 'loop': {
      const { stdout } = await exec('losetup', ['--list', '--noheadings', '--output', 'BACK-FILE', r.device], { reject: false });
      if (stdout.trim().replace(/ \(deleted\)$/, '') !== r.file) return;
      await exec('losetup', ['-d', r.device]);
      log(`detached ${r.device} (${r.file})`);
      return;
    }
    case 'tree':
      return removeTree(r.path, log);
    case 'file': {
      // lstat, not a read: a partial image is gigabytes. rm removes a link itself, never its target.
      if (!(await lstat(r.path).catch(() => undefined))) return;
      await rm(r.path, { force: true });
      log(`removed ${r.path}`);
      return;
    }
    case 'lock': {
      // Only a lock that still names the dead process (a live one, or another's, stays).
      const lock = await readLock(r.path).catch(() => undefined);
      if (!lock || lock.pid !== state.pid || lock.ns !== state.pidns || alive(lock.pid)) return;
      await rm(r.path, { force: true });
      log(`removed the stale lock ${r.path}`);
      return;
    }
    case 'process': {
      if (!sameProcess(r) || !runsWith(r.pid, /^linux(\.uml)?$/, `umid=${r.umid}`)) return;
      killTree(r.pid);
      for (let i = 0; i < 50 && sameProcess(r); i++) await new Promise((ok) => setTimeout(ok, 100));
      log(`killed UML ${r.umid} (pid ${r.pid})`);
      return;
    }
    case 'netns': {
      const { stdout } = await exec('ip', ['netns', 'list'], { reject: false });
      if (!stdout.split('\n').some((l) => l.split(' ')[0] === r.name)) return;
      await exec('ip', ['netns', 'delete', r.name]);
      log(`deleted network namespace ${r.name}`);
    }
  }
}

export interface CleanupReport {
  /** Journals of dead builds that were cleaned up. */
  builds: number;
  /** Journals of failed builds kept for inspection and left alone (`kept: false`): one line each. */
  kept: string[];
  actions: string[];
  errors: string[];
}

/** A journal file, read without following a link or blocking; undefined when it is not a readable state. */
async function readState(file: string): Promise<State | undefined> {
  const fh = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK).catch(() => undefined);
  if (!fh) return undefined;
  try {
    const state = JSON.parse(await fh.readFile('utf8')) as State;
    return Number.isInteger(state.pid) && state.pid > 0 && Array.isArray(state.resources) ? state : undefined;
  } catch {
    return undefined;
  } finally {
    await fh.close();
  }
}

/**
 * Release what dead builds recorded, newest first; leave live builds' journals
 * alone, and with `kept: false` (the start of a build) those of failed builds
 * kept for inspection. Only journals in a directory of our own, that no one else can write,
 * are read, and only resources that pass journal-verify.ts are released.
 */
export async function cleanupStale(dir = journalDir(), opts: { kept?: boolean } = {}): Promise<CleanupReport> {
  const report: CleanupReport = { builds: 0, kept: [], actions: [], errors: [] };
  const badDir = await untrustedJournalPath(dir, 'directory');
  if (badDir) {
    report.errors.push(`journal directory ${dir} not used: ${badDir}`);
    return report;
  }
  const ns = pidNamespace();
  for (const f of (await readdir(dir).catch(() => [] as string[])).filter((n) => n.endsWith('.json')).sort()) {
    const file = join(dir, f);
    const badFile = await untrustedJournalPath(file, 'file');
    if (badFile) {
      report.errors.push(`journal ${file} not used: ${badFile}`);
      continue;
    }
    const state = await readState(file);
    if (!state) continue;
    if (state.pidns === ns && alive(state.pid)) continue;
    if (state.pidns !== ns) continue; // a rootless build: its mounts died with its namespace; its files are its own to clean
    if (state.kept === true && opts.kept === false) {
      const paths = state.resources.flatMap((r) => ('path' in r && r.kind !== 'lock' ? [String(r.path)] : []));
      report.kept.push(`a build that failed (pid ${state.pid}, started ${state.started}) kept ${paths.join(', ') || 'what it held'} for inspection: \`umlbuild cleanup\` releases it`);
      continue;
    }
    report.builds++;
    const log = (line: string) => report.actions.push(`${line} (left by pid ${state.pid}, started ${state.started})`);
    let ok = true;
    for (const r of [...state.resources].reverse()) {
      try {
        const why = await untrusted(r, state);
        if (why) {
          ok = false;
          report.errors.push(`journal ${file}: left alone ${JSON.stringify(r)}: ${why}`);
        } else await release(r, state, log);
      } catch (e) {
        ok = false;
        report.errors.push(`could not release ${JSON.stringify(r)}: ${(e as Error).message}`);
      }
    }
    if (ok) await rm(file, { force: true });
  }
  return report;
}
