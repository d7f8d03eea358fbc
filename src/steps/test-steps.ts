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
 * ```
 */
import { z } from 'zod';
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
