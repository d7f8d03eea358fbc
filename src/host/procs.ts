/**
 * Processes left running inside a tree (a daemon a `run` step started with
 * setsid, a service that forked): found by their root directory, working
 * directory or open files under the tree (/proc/PID/root, cwd, fd/*), and
 * stopped (SIGTERM, a short wait, then SIGKILL) before the tree is unmounted,
 * so nothing writes into an image after it was detached and hashed.
 */
import { readdir, readFile, readlink, realpath } from 'node:fs/promises';

export interface FoundProcess {
  pid: number;
  command: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const under = (path: string, root: string) => path === root || path.startsWith(root === '/' ? '/' : `${root}/`);

/** This process and its ancestors: never ours to kill (our cwd or an open file may be in the tree). */
async function ourLineage(): Promise<Set<number>> {
  const mine = new Set<number>();
  let pid = process.pid;
  while (pid > 1 && !mine.has(pid)) {
    mine.add(pid);
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses.
    pid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1] ?? 0);
  }
  return mine;
}

async function command(pid: number): Promise<string> {
  const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
  const text = cmdline.replace(/\0+$/, '').replace(/\0/g, ' ');
  if (text) return text.length > 120 ? `${text.slice(0, 117)}...` : text;
  return (await readFile(`/proc/${pid}/comm`, 'utf8').catch(() => '?')).trim();
}

async function usesTree(pid: number, root: string): Promise<boolean> {
  const link = (p: string) => readlink(`/proc/${pid}/${p}`).catch(() => undefined);
  const fds = await readdir(`/proc/${pid}/fd`).catch(() => [] as string[]);
  const targets = await Promise.all([link('root'), link('cwd'), ...fds.map((fd) => link(`fd/${fd}`))]);
  return targets.some((t) => t?.startsWith('/') && under(t, root));
}

/** Every process (not this one or its ancestors) whose root, cwd or an open file is `root` or below it. */
export async function processesIn(root: string): Promise<FoundProcess[]> {
  const real = await realpath(root).catch(() => root);
  if (real === '/') return [];
  const mine = await ourLineage();
  const pids = (await readdir('/proc'))
    .filter((n) => /^\d+$/.test(n))
    .map(Number)
    .filter((pid) => !mine.has(pid));
  // In batches: each check holds a directory handle open (/proc/PID/fd).
  const using: boolean[] = [];
  for (let i = 0; i < pids.length; i += 64) using.push(...(await Promise.all(pids.slice(i, i + 64).map((pid) => usesTree(pid, real)))));
  return Promise.all(pids.filter((_, i) => using[i]).map(async (pid) => ({ pid, command: await command(pid) })));
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    /* already gone */
  }
}

async function waitGone(root: string, ms: number): Promise<FoundProcess[]> {
  const deadline = Date.now() + ms;
  for (;;) {
    const left = await processesIn(root);
    if (!left.length || Date.now() >= deadline) return left;
    await sleep(100);
  }
}

/**
 * Stop every process in `root` (SIGTERM, up to `graceMs`, then SIGKILL; new
 * ones forked meanwhile are killed too) and warn naming each one. Returns
 * what was found; throws if something survives SIGKILL (the tree stays busy).
 */
export async function stopProcessesIn(root: string, warn: (line: string) => void, graceMs = 2000): Promise<FoundProcess[]> {
  const found = await processesIn(root);
  if (!found.length) return [];
  const seen = new Map(found.map((p) => [p.pid, p]));
  for (const p of found) signal(p.pid, 'SIGTERM');
  let left = await waitGone(root, graceMs);
  for (let round = 0; left.length && round < 10; round++) {
    for (const p of left) {
      if (!seen.has(p.pid)) seen.set(p.pid, p);
      signal(p.pid, 'SIGKILL');
    }
    left = await waitGone(root, 1000);
  }
  const named = [...seen.values()].map((p) => `pid ${p.pid} (${p.command})`).join(', ');
  warn(`warning: killed ${seen.size} process(es) left running in ${root}: ${named}`);
  if (left.length) throw new Error(`processes in ${root} survived SIGKILL: ${left.map((p) => `pid ${p.pid} (${p.command})`).join(', ')}`);
  return [...seen.values()];
}
