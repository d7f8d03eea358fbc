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
