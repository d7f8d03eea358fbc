/**
 * A process identity that survives pid reuse: pid + start time (field 22 of
 * /proc/PID/stat, clock ticks since boot) + boot id. A journal records it for
 * each UML process so that `umlbuild cleanup` kills the process that was
 * started, never whatever later got its pid.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { basename } from 'node:path';

export interface ProcessIdentity {
  pid: number;
  /** Start time in clock ticks since boot. */
  start: string;
  boot: string;
}

function statFields(pid: number): string[] | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // "PID (COMM) STATE PPID ...": COMM may hold spaces and parentheses; fields after it are plain.
    return [
      String(pid),
      'comm',
      ...text
        .slice(text.lastIndexOf(')') + 2)
        .trim()
        .split(' '),
    ];
  } catch {
    return undefined;
  }
}

export function bootId(): string {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return '';
  }
}

export function processIdentity(pid: number): ProcessIdentity | undefined {
  const f = statFields(pid);
  return f?.[21] ? { pid, start: f[21], boot: bootId() } : undefined;
}

/** Whether the recorded process still runs (not a zombie) and is the same one. */
export function sameProcess(p: ProcessIdentity): boolean {
  const f = statFields(p.pid);
  return Boolean(f && f[2] !== 'Z' && f[21] === p.start && bootId() === p.boot);
}

/** Whether `pid` runs a program whose file name matches `name` with the argument `arg` (e.g. /usr/bin/linux.uml, umid=X). */
export function runsWith(pid: number, name: RegExp, arg: string): boolean {
  try {
    const exe = readlinkSync(`/proc/${pid}/exe`).replace(/ \(deleted\)$/, '');
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return name.test(basename(exe)) && argv.includes(arg);
  } catch {
    return false;
  }
}

/** All descendants of `pid` (children first found, then theirs). */
export function descendants(pid: number): number[] {
  const parent = new Map<number, number>();
  for (const p of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    const f = statFields(Number(p));
    if (f?.[3]) parent.set(Number(p), Number(f[3]));
  }
  const out: number[] = [];
  const walk = (of: number) => {
    for (const [child, ppid] of parent)
      if (ppid === of && !out.includes(child)) {
        out.push(child);
        walk(child);
      }
  };
  walk(pid);
  return out;
}

/** SIGKILL a process and its descendants (collected first: once it dies they are reparented). */
export function killTree(pid: number): number {
  const all = [pid, ...descendants(pid)];
  let killed = 0;
  for (const p of all) {
    try {
      process.kill(p, 'SIGKILL');
      killed++;
    } catch {
      /* already gone */
    }
  }
  return killed;
}
