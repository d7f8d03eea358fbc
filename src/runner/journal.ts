/**
 * The teardown journal: what a running umlbuild holds (mounts, loop devices,
 * temporary trees and files, network namespaces, UML processes), written to a state file as
 * each is acquired and taken out as each is released, so that a build killed
 * with SIGKILL (or a crash) can be cleaned up later: `umlbuild cleanup`, and
 * the start of every build, release what dead builds left — and only that:
 * a loop device is detached only while it still backs the recorded file, and
 * nothing that is not in a journal is touched.
 *
 * Location: /run/umlbuild as root, else $XDG_RUNTIME_DIR/umlbuild or
 * ~/.cache/umlbuild/run (a rootless build is told its user's place in
 * UMLBUILD_JOURNAL_DIR); one `<run id>.json` per running umlbuild.
 */
import { mkdirSync, readdirSync, readlinkSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { lstat, readdir, readFile, rm } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { privilege } from '../host/userns.js';
import { exec } from '../host/exec.js';
import { isMountPoint, unmount } from '../host/mount.js';
import { removeTree } from '../host/remove-tree.js';
import { RUN_ID } from '../host/run-id.js';
import { alive, pidNamespace } from '../host/lock-file.js';
import { killTree, runsWith, sameProcess } from '../host/process-id.js';

export type Resource =
  | { kind: 'mount'; path: string }
  | { kind: 'loop'; device: string; file: string }
  | { kind: 'tree'; path: string }
  | { kind: 'file'; path: string }
  | { kind: 'netns'; name: string }
  /** A UML instance: identified by pid + start time + boot id (pid reuse), killed only while it runs `linux` with umid=UMID. */
  | { kind: 'process'; pid: number; start: string; boot: string; umid: string };

interface State {
  pid: number;
  pidns: string;
  started: string;
  argv: string[];
  resources: (Resource & { id: number })[];
}

export function journalDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.UMLBUILD_JOURNAL_DIR) return env.UMLBUILD_JOURNAL_DIR;
  if (privilege() === 'root') return '/run/umlbuild';
  return env.XDG_RUNTIME_DIR ? join(env.XDG_RUNTIME_DIR, 'umlbuild') : join(env.HOME || homedir(), '.cache', 'umlbuild', 'run');
}

/**
 * This process's journal. Written synchronously (temporary file + rename):
 * when defer() returns, the resource is on disk, so a SIGKILL right after
 * cannot lose it.
 */
export class Journal {
  private state: State;
  private nextId = 1;
  readonly file: string;

  constructor(readonly dir = journalDir()) {
    this.file = join(dir, `${RUN_ID}.json`);
    this.state = { pid: process.pid, pidns: pidNamespace(), started: new Date().toISOString(), argv: process.argv.slice(2), resources: [] };
  }

  /** Record a resource; returns the id to forget it by. */
  add(r: Resource): number {
    const id = this.nextId++;
    this.state.resources.push({ ...r, id });
    this.save();
    return id;
  }

  forget(id: number): void {
    this.state.resources = this.state.resources.filter((r) => r.id !== id);
    this.save();
  }

  /** The build is over: remove the state file if everything was released. */
  close(): void {
    this.save();
  }

  private save(): void {
    if (this.state.resources.length === 0) return void rmSync(this.file, { force: true });
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const tmp = `${this.file}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(this.state, null, 2)}\n`, { mode: 0o600 });
    renameSync(tmp, this.file);
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

async function release(r: Resource, log: (line: string) => void): Promise<void> {
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
      // lstat, not a read: a partial image is gigabytes.
      if (!(await lstat(r.path).catch(() => undefined))) return;
      await rm(r.path, { force: true });
      log(`removed ${r.path}`);
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
  actions: string[];
  errors: string[];
}

/** Release what dead builds recorded, newest first; leave live builds' journals alone. */
export async function cleanupStale(dir = journalDir()): Promise<CleanupReport> {
  const report: CleanupReport = { builds: 0, actions: [], errors: [] };
  const ns = pidNamespace();
  for (const f of (await readdir(dir).catch(() => [] as string[])).filter((n) => n.endsWith('.json')).sort()) {
    const file = join(dir, f);
    const state = await readFile(file, 'utf8').then((t) => JSON.parse(t) as State, () => undefined);
    if (!state) continue;
    if (state.pidns === ns && alive(state.pid)) continue;
    if (state.pidns !== ns) continue; // a rootless build: its mounts died with its namespace; its files are its own to clean
    report.builds++;
    const log = (line: string) => report.actions.push(`${line} (left by pid ${state.pid}, started ${state.started})`);
    let ok = true;
    for (const r of [...state.resources].reverse()) {
      try {
        await release(r, log);
      } catch (e) {
        ok = false;
        report.errors.push(`could not release ${JSON.stringify(r)}: ${(e as Error).message}`);
      }
    }
    if (ok) await rm(file, { force: true });
  }
  return report;
}
