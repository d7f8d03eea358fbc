/** What umlbuild may have left on the host: loop devices and mounts. */
import { readdirSync, readFileSync } from 'node:fs';
import { exec } from '../../src/host/exec.js';

/** Skip naming exactly what is missing (root, each tool and its package) unless root with `tools`; fail under CI=true. */
export { requireRootWith } from '../support/skip.js';

export async function loopsFor(pathPart: string): Promise<string[]> {
  const { stdout } = await exec('losetup', ['--list', '--noheadings', '--output', 'NAME,BACK-FILE']);
  return stdout.split('\n').filter((l) => l.includes(pathPart));
}

export async function umlbuildMounts(): Promise<string[]> {
  const { stdout } = await exec('findmnt', ['--raw', '--noheadings', '--output', 'TARGET']);
  return stdout.split('\n').filter((l) => /umlbuild-/.test(l));
}

/**
 * Watch every process's command line (/proc/PID/cmdline, every 20 ms) for
 * `secret` until stopped: how a password in an argv would show to any user.
 */
export function watchCmdlines(secret: string): { stop(): Promise<{ samples: number; hits: string[] }> } {
  let samples = 0;
  let running = true;
  const hits = new Set<string>();
  const loop = (async () => {
    while (running) {
      for (const pid of readdirSync('/proc')) {
        if (!/^\d+$/.test(pid)) continue;
        try {
          const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
          samples++;
          if (cmdline.includes(secret)) hits.add(cmdline);
        } catch {
          /* exited meanwhile */
        }
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return { samples, hits: [...hits] };
    },
  };
}

/** Kill what a SIGKILLed or abandoned umlbuild left running with `part` in its command line (xz, UML, a shell), so the machine is not loaded. */
export function killLeftovers(part: string): void {
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(part)) process.kill(Number(pid), 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}
