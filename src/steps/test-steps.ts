/**
 * Test-only steps, hidden from `umlbuild steps`: `echo` logs a message and
 * `fail` fails (optionally after acquiring a fake resource), so the runner and
 * its teardown can be tested without root.
 *
 * ```yaml
 * - step: echo
 *   message: hello
 *   defer: released-hello    # optional: push a teardown entry that logs this
 *   seconds: 30              # optional: then wait (an interrupt ends the wait)
 * - step: fail
 *   message: boom
 * - step: fake-kernel         # stands in for a `kernel` step: sets facts.kernel
 *   from: /tmp/k              # linux, config, System.map (prepared by the test)
 *   entry: /tmp/k-entry       # the "cache entry": made from `from` when it lacks linux
 *   release: 6.1.176
 * ```
 */
import { z } from 'zod';
import { copyFile, lstat, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { sha256File } from '../host/hashing.js';
import type { Step } from './types.js';

const echoSchema = z.object({ message: z.string(), defer: z.string().optional(), seconds: z.number().nonnegative().default(0) }).strict();

export const echo: Step<z.infer<typeof echoSchema>> = {
  kind: 'echo',
  summary: 'log a message (test only)',
  hidden: true,
  schema: echoSchema,
  traits: { inVariant: 'tree' },
  title: (o) => `Echo ${o.message}`,
  async run(o, ctx) {
    ctx.log(o.message);
    if (o.defer) ctx.teardown.defer(o.defer, () => ctx.log(`teardown: ${o.defer}`));
    if (o.seconds) {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(resolve, o.seconds * 1000);
        ctx.signal.addEventListener(
          'abort',
          () => {
            clearTimeout(timer);
            reject(ctx.signal.reason);
          },
          { once: true },
        );
      });
    }
  },
};

const failSchema = z.object({ message: z.string().default('failed on purpose'), in_verify: z.boolean().default(false) }).strict();

export const fail: Step<z.infer<typeof failSchema>> = {
  kind: 'fail',
  summary: 'fail (test only)',
  hidden: true,
  schema: failSchema,
  traits: { inVariant: 'tree' },
  title: () => 'Fail',
  async verify(o, ctx) {
    if (o.in_verify) ctx.problem(o.message, 'message');
  },
  async run(o) {
    throw new Error(o.message);
  },
};

const fakeKernelSchema = z.object({ from: z.string().startsWith('/'), entry: z.string().startsWith('/'), release: z.string().regex(/^[\w.+~-]+$/) }).strict();

export const fakeKernel: Step<z.infer<typeof fakeKernelSchema>> = {
  kind: 'fake-kernel',
  summary: 'stand in for a kernel step: record a prepared kernel directory as the built kernel (test only)',
  hidden: true,
  schema: fakeKernelSchema,
  title: (o) => `Fake kernel ${o.release}`,
  async run(o, ctx) {
    if (!(await lstat(join(o.entry, 'linux')).catch(() => undefined))) {
      await mkdir(o.entry, { recursive: true });
      for (const f of ['linux', 'config', 'System.map']) await copyFile(join(o.from, f), join(o.entry, f));
      ctx.log(`made ${o.entry} from ${o.from}`);
    }
    const sha256 = await sha256File(join(o.entry, 'linux'));
    ctx.facts.kernel = { key: `fake-${sha256.slice(0, 16)}`, dir: o.entry, release: o.release, sha256, configSha256: await sha256File(join(o.entry, 'config')), modules: false };
    ctx.facts.kernelVersion = o.release;
  },
};
