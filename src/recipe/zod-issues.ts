/** Turn zod validation errors into located recipe issues; an unknown key names the closest known one. */
import type { z } from 'zod';
import type { RecipeIssue } from '../errors.js';
import { didYouMean } from '../model/names.js';
import type { KeyPath, RecipeSource } from './source.js';

/** `schema`: the schema that made `error`, to suggest the key an unknown one was meant to be. */
export function zodIssues(src: RecipeSource, at: KeyPath, error: z.ZodError, schema?: z.ZodType): RecipeIssue[] {
  const out: RecipeIssue[] = [];
  for (const issue of error.issues) {
    const path: KeyPath = [...at, ...(issue.path as (string | number)[])];
    if (issue.code === 'unrecognized_keys') {
      const known = schema ? keysAt(schema, issue.path as (string | number)[]) : [];
      for (const key of issue.keys) out.push(src.issue([...path, key], `unknown key "${key}"${didYouMean(key, known)}`, { key: true }));
    } else {
      out.push(src.issue(path, describe(issue)));
    }
  }
  return out;
}

type Def = { type: string; shape?: Record<string, z.ZodType>; element?: z.ZodType; valueType?: z.ZodType; innerType?: z.ZodType; in?: z.ZodType; options?: z.ZodType[]; getter?: () => z.ZodType };
const defOf = (s: z.ZodType) => (s as unknown as { _zod: { def: Def } })._zod.def;

/** The keys an object schema accepts at `path` inside `schema` (every branch of a union), for did-you-mean. */
export function keysAt(schema: z.ZodType, path: readonly (string | number)[], depth = 0): string[] {
  if (depth > 50) return [];
  const d = defOf(schema);
  const inner = d.innerType ?? d.in ?? d.getter?.();
  if (inner) return keysAt(inner, path, depth + 1);
  if (d.type === 'union') return [...new Set((d.options ?? []).flatMap((o) => keysAt(o, path, depth + 1)))];
  if (!path.length) return d.type === 'object' ? Object.keys(d.shape ?? {}) : [];
  const [head, ...rest] = path;
  if (d.type === 'object' && typeof head === 'string' && d.shape?.[head]) return keysAt(d.shape[head], rest, depth + 1);
  if (d.type === 'array' && d.element) return keysAt(d.element, rest, depth + 1);
  if (d.type === 'record' && d.valueType) return keysAt(d.valueType, rest, depth + 1);
  return [];
}

function describe(issue: z.core.$ZodIssue): string {
  if (issue.code === 'invalid_type' && /received undefined/.test(issue.message)) return `required (${issue.expected})`;
  if (issue.code === 'invalid_union') return issue.message === 'Invalid input' ? 'not one of the accepted forms' : issue.message;
  return issue.message;
}
