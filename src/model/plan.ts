/**
 * The plan as data: what a recipe resolves to before anything runs. The
 * loader (recipe/load.ts) makes it; the engine only reads it. The runtime
 * plan adds to this what cannot be data (each step's implementation, where
 * in which file it was written, which variables are secret).
 */
import { z } from 'zod';
import { launchSchema } from '../launch/schema.js';
import { testSchema } from './test-config.js';
import { proxyUrlValue } from './values.js';

export const planStepSchema = z.object({
  /** Position in the recipe's own list (steps umlbuild inserts share their neighbour's). */
  index: z.number().int().nonnegative(),
  kind: z.string().min(1),
  /** Checked by the step's own schema when the plan was made. */
  options: z.unknown(),
  title: z.string(),
  file: z.string(),
  line: z.number().int().optional(),
});

export const planVariantSchema = z.object({ name: z.string().min(1), vars: z.record(z.string(), z.unknown()), steps: z.array(planStepSchema) });

export const planSchema = z.object({
  file: z.string(),
  dir: z.string(),
  name: z.string().min(1),
  description: z.string().optional(),
  /** A file name in the output directory. */
  output: z.string().min(1),
  vars: z.record(z.string(), z.unknown()),
  launch: launchSchema,
  test: testSchema,
  /** The UML instance id (launch.umid, or the recipe name). */
  umid: z.string().min(1),
  steps: z.array(planStepSchema).min(1),
  /** What the build produces: a disk image, or a root directory for hostfs. */
  rootfs: z.enum(['image', 'hostfs']),
  /** hostfs root: the tree's owner (USER[:GROUP]). */
  owner: z.string().optional(),
  /** COW variants built over the image. */
  variants: z.array(planVariantSchema),
  /** Things worth saying that do not stop the build. */
  warnings: z.array(z.string()),
  /** --hook after-image scripts: run once the outputs are in place. */
  afterImage: z.array(z.object({ script: z.string(), args: z.array(z.string()) })),
  /** Set when the image is built reproducibly: the time everything is clamped to, and the filesystem UUID. */
  reproducible: z.object({ epoch: z.number().int().positive(), uuid: z.string().uuid() }).optional(),
  /** The recipe's `apt_proxy`: the HTTP proxy (a package cache) the bootstrap and chroot commands fetch through; never written into the image. */
  aptProxy: proxyUrlValue.optional(),
});

export type PlanStepData = z.output<typeof planStepSchema>;
export type PlanVariantData = z.output<typeof planVariantSchema>;
export type PlanData = z.output<typeof planSchema>;

/** Problems with a plan's data (a plan a library caller made or changed), each with its key path; empty when it is sound. */
export function planDataProblems(plan: unknown): { path: string; message: string }[] {
  const r = planSchema.safeParse(plan);
  return r.success
    ? []
    : r.error.issues.map((i) => ({
        path:
          i.path
            .map((k) => (typeof k === 'number' ? `[${k}]` : `.${String(k)}`))
            .join('')
            .replace(/^\./, '') || '(plan)',
        message: i.message,
      }));
}
