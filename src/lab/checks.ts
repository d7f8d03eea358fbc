/**
 * A lab's checks (model/lab.ts LabCheck), run once every machine is up, in
 * order, over the machines' consoles:
 * - run: the command's exit status and (optionally) its output against a regex;
 * - ping: `ping -c N -i 0.2 -W 2 ADDRESS` succeeds (any reply: reachability; the N echoes 0.2 s apart, not
 *   1 s, so a passing check of 3 takes about 0.4 s instead of 2 s);
 * - tcp: a receiver on `to` (`nc -l -p PORT | wc -c` in the background), the
 *   sender pipes N MiB of zeros to it with nc, and the receiver counted them all.
 */
import type { LabCheck } from '../model/lab.js';
import { shQuote } from '../launch/line.js';

export interface CheckResult {
  name: string;
  ok: boolean;
  detail: string;
  seconds: number;
}

/** Runs a command on a machine of the lab that is up. */
export type RunOn = (machine: string, command: string, timeoutS: number) => Promise<{ output: string; status: number }>;

const clip = (s: string, n = 400) => (s.length > n ? `${s.slice(0, n)}…` : s);

async function runCheck(c: LabCheck, on: RunOn): Promise<{ ok: boolean; detail: string }> {
  switch (c.kind) {
    case 'run': {
      const r = await on(c.machine, c.command, 300);
      if (r.status !== c.status) return { ok: false, detail: `exit status ${r.status} (expected ${c.status})${r.output ? `: ${clip(r.output)}` : ''}` };
      if (c.expect !== undefined && !new RegExp(c.expect, 'm').test(r.output)) return { ok: false, detail: `output does not match /${c.expect}/: ${clip(r.output)}` };
      return { ok: true, detail: '' };
    }
    case 'ping': {
      const r = await on(c.machine, `ping -c ${c.count} -i 0.2 -W 2 ${shQuote(c.address)}`, c.count * 3 + 10);
      const stats = /\d+ packets transmitted.*$/m.exec(r.output)?.[0] ?? clip(r.output);
      return { ok: r.status === 0, detail: r.status === 0 ? '' : `no reply from ${c.address} (${stats})` };
    }
    case 'tcp': {
      const bytes = c.mbytes * 1048576;
      const got = `/tmp/.umlbuild-check-${c.port}`;
      const rx = await on(c.to, `rm -f ${got} ${got}.done; (nc -l -p ${c.port} | wc -c > ${got}; touch ${got}.done) >/dev/null 2>&1 & :`, 30);
      if (rx.status !== 0) return { ok: false, detail: `could not start the receiver on ${c.to}: ${clip(rx.output)}` };
      // The receiver listens once its nc is up: wait for the port (busybox netstat).
      await on(c.to, `for i in $(seq 50); do netstat -ltn 2>/dev/null | grep -q ":${c.port} " && break; sleep 0.1; done`, 30);
      const tx = await on(c.machine, `head -c ${bytes} /dev/zero | nc -w 5 ${shQuote(c.address)} ${c.port}`, 60 + c.mbytes * 5);
      const r = await on(c.to, `for i in $(seq 100); do [ -e ${got}.done ] && break; sleep 0.1; done; cat ${got}; rm -f ${got} ${got}.done`, 60);
      const n = Number(r.output.trim().split('\n').pop());
      if (n === bytes) return { ok: true, detail: '' };
      return { ok: false, detail: `${c.to} received ${Number.isFinite(n) ? `${n} of ${bytes} bytes` : `nothing countable (${clip(r.output)})`}${tx.status ? `; the sender's nc exited with ${tx.status}: ${clip(tx.output)}` : ''}` };
    }
  }
}

/** Run the checks in order; one result each (a check that throws failed, with the reason). */
export async function runChecks(checks: readonly LabCheck[], on: RunOn, report?: (r: CheckResult) => void, signal?: AbortSignal): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  for (const c of checks) {
    signal?.throwIfAborted();
    const t0 = Date.now();
    let r: { ok: boolean; detail: string };
    try {
      r = await runCheck(c, on);
    } catch (e) {
      if (signal?.aborted) throw e;
      r = { ok: false, detail: (e as Error).message };
    }
    const result = { name: c.name, ...r, seconds: (Date.now() - t0) / 1000 };
    results.push(result);
    report?.(result);
  }
  return results;
}

/** `ok   NAME (0.4 s)` / `FAIL NAME: detail (1.2 s)`. */
export function checkLine(r: CheckResult): string {
  return r.ok ? `ok   ${r.name} (${r.seconds.toFixed(1)} s)` : `FAIL ${r.name}: ${r.detail} (${r.seconds.toFixed(1)} s)`;
}
