/** The shape of a recipe file (steps are checked by each step's own schema). */
import { z } from 'zod';

export const variableSpec = z
  .object({
    default: z.unknown().optional(),
    required: z.boolean().optional(),
    secret: z.boolean().optional(),
    description: z.string().optional(),
  })
  .strict();

export type VariableSpec = z.infer<typeof variableSpec>;

export const launchSchema = z
  .object({
    mem: z.union([z.string(), z.number()]).optional(),
    umid: z.string().optional(),
    /** `none`, or a vector transport: `tap`, `raw`, ... with its options. */
    network: z
      .union([
        z.literal('none'),
        z
          .object({
            device: z.string().regex(/^(vec|eth)\d+$/).optional(),
            transport: z.string().min(1),
            options: z.record(z.string(), z.union([z.string(), z.number()])).optional(),
          })
          .strict(),
      ])
      .optional(),
    args: z.array(z.string()).optional(),
  })
  .strict();

export type LaunchConfig = z.infer<typeof launchSchema>;

export const recipeFileSchema = z
  .object({
    $schema: z.string().optional(),
    name: z.string().regex(/^[\w.+-]+$/, 'use letters, digits, dot, dash, plus or underscore').optional(),
    description: z.string().optional(),
    extends: z.string().min(1).optional(),
    variables: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'not a valid variable name'), z.unknown()).optional(),
    output: z.string().min(1).optional(),
    launch: z.unknown().optional(),
    steps: z.array(z.unknown()).optional(),
  })
  .strict();

export type RecipeFile = z.infer<typeof recipeFileSchema>;
