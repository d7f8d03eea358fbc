/** The shape of a recipe file (steps are checked by each step's own schema). */
import { z } from 'zod';

export { testSchema, type TestConfig } from '../model/test-config.js';

export { variableSpec, type VariableSpec } from './var-types.js';

export const recipeFileSchema = z
  .object({
    $schema: z.string().optional(),
    name: z
      .string()
      .regex(/^[\w.+-]+$/, 'use letters, digits, dot, dash, plus or underscore')
      .optional(),
    description: z.string().optional(),
    extends: z.string().min(1).optional(),
    variables: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'not a valid variable name'), z.unknown()).optional(),
    output: z.string().min(1).optional(),
    launch: z.unknown().optional(),
    test: z.unknown().optional(),
    /** `uml`: add a tune-uml step before unmount (fast boot under UML). */
    tune: z.enum(['uml', 'none']).optional(),
    /** Byte-identical images from build to build (also turned on by SOURCE_DATE_EPOCH). */
    reproducible: z.boolean().optional(),
    /** Harden the guest: no module loading after boot, hostfs confined, no bpfflash. */
    lockdown: z.boolean().optional(),
    /** `hostfs`: build a root directory that UML boots with hostfs, not an image. */
    rootfs: z.enum(['image', 'hostfs']).optional(),
    /** hostfs root: chown the tree to this user (who will run UML). */
    hostfs_owner: z
      .string()
      .regex(/^[\w.-]+(:[\w.-]+)?$/)
      .optional(),
    /** An HTTP proxy or package cache (apt-cacher-ng) to fetch packages through: given to the bootstrap tools and to the chroot's commands in their environment, never written into the image. */
    apt_proxy: z.string().optional(),
    steps: z.array(z.unknown()).optional(),
    variant_steps: z.array(z.unknown()).optional(),
    variants: z.array(z.unknown()).optional(),
  })
  .strict();

export type RecipeFile = z.infer<typeof recipeFileSchema>;
