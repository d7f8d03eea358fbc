/**
 * Typed variables. A variable spec may say what its value is:
 *
 * ```yaml
 * variables:
 *   network:
 *     default: dhcp
 *     type: enum                      # string, integer, boolean, size, enum, pattern, hostname
 *     values: [dhcp, static, none]    # enum only
 *     requires: { static: [address, netmask] }   # these must be set when network is static
 *   cpus: { default: 1, type: integer, min: 1, max: 64 }
 *   netdev: { default: vec0, type: pattern, pattern: "[a-z][a-z0-9]{0,14}" }   # whole value
 * ```
 *
 * Values from `--set` and UMLBUILD_VAR_* are converted by the type (`8` to a
 * number, `yes` to true); every value, default or given, is checked by it.
 */
import { z } from 'zod';
import { parseSize } from '../model/size.js';
import { isHostname } from '../model/values.js';

export const VARIABLE_TYPES = ['string', 'integer', 'boolean', 'size', 'enum', 'pattern', 'hostname'] as const;
export type VariableType = (typeof VARIABLE_TYPES)[number];

const varName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'not a valid variable name');

function compiles(p: string): boolean {
  try {
    new RegExp(p);
    return true;
  } catch {
    return false;
  }
}

/** One layer's spec of a variable (rules between keys are checked on the merged spec: a child may add to its parent's). */
export const variableSpec = z
  .object({
    default: z.unknown().optional(),
    required: z.boolean().optional(),
    secret: z.boolean().optional(),
    /** Secret only: when it ends up empty (and `unless` names an empty variable), umlbuild generates a strong random password. */
    generate: z.union([z.literal(true), z.object({ unless: z.string() }).strict()]).optional(),
    description: z.string().optional(),
    type: z.enum(VARIABLE_TYPES).optional(),
    /** enum: the allowed values. */
    values: z
      .array(z.union([z.string(), z.number(), z.boolean()]))
      .min(1)
      .optional(),
    /** pattern: a regular expression the whole value must match. */
    pattern: z.string().min(1).refine(compiles, 'not a valid regular expression').optional(),
    /** integer: bounds (inclusive). */
    min: z.number().int().optional(),
    max: z.number().int().optional(),
    /** value -> variables that must then be set (not empty). */
    requires: z.record(z.string(), z.array(varName).min(1)).optional(),
  })
  .strict();

export type VariableSpec = z.infer<typeof variableSpec>;

export const SPEC_KEYS: ReadonlySet<string> = new Set(Object.keys(variableSpec.shape));

/** Problems between the keys of a merged spec: [key, message, key below it]. */
export function specProblems(spec: VariableSpec): [keyof VariableSpec, string, string?][] {
  const out: [keyof VariableSpec, string, string?][] = [];
  const t = spec.type;
  if (t === 'enum' && !spec.values) out.push(['type', 'type enum needs values: [the allowed values]']);
  if (spec.values && t !== 'enum') out.push(['values', 'values: is for type: enum']);
  if (spec.values && new Set(spec.values.map(String)).size !== spec.values.length) out.push(['values', 'values: each value once']);
  if (t === 'pattern' && !spec.pattern) out.push(['type', 'type pattern needs pattern: a regular expression']);
  if (spec.pattern && t !== 'pattern') out.push(['pattern', 'pattern: is for type: pattern']);
  for (const k of ['min', 'max'] as const) if (spec[k] !== undefined && t !== 'integer') out.push([k, `${k}: is for type: integer`]);
  if (spec.min !== undefined && spec.max !== undefined && spec.min > spec.max) out.push(['min', 'min is greater than max']);
  if (spec.requires && spec.values) {
    for (const k of Object.keys(spec.requires)) if (!spec.values.map(String).includes(k)) out.push(['requires', `"${k}" is not one of the values (${spec.values.join(', ')})`, k]);
  }
  return out;
}

/** What the type allows, for messages: "one of dhcp, static, none". */
export function describeType(spec: VariableSpec): string {
  switch (spec.type) {
    case 'enum':
      return `one of ${spec.values!.join(', ')}`;
    case 'integer':
      return `a whole number${spec.min !== undefined ? ` >= ${spec.min}` : ''}${spec.max !== undefined ? `${spec.min !== undefined ? ' and' : ''} <= ${spec.max}` : ''}`;
    case 'boolean':
      return 'a boolean (true/false, yes/no, on/off, 1/0)';
    case 'size':
      return 'a size (a number with K, M, G or T, e.g. 2G)';
    case 'pattern':
      return `text matching /^(?:${spec.pattern})$/`;
    case 'hostname':
      return 'a hostname (RFC 1123: dot-separated labels of letters, digits and "-")';
    default:
      return 'a string';
  }
}

const TRUE = /^(true|yes|on|1)$/i;
const FALSE = /^(false|no|off|0)$/i;

/** The value converted to its type, or undefined when it is not of the type. */
export function convert(spec: VariableSpec, value: unknown): { value: unknown } | undefined {
  const scalar = typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean';
  switch (spec.type) {
    case undefined:
      return { value };
    case 'string':
      return scalar ? { value: String(value) } : undefined;
    case 'integer': {
      const n = typeof value === 'number' ? value : typeof value === 'string' && /^[+-]?\d+$/.test(value.trim()) ? Number(value) : NaN;
      if (!Number.isSafeInteger(n)) return undefined;
      if ((spec.min !== undefined && n < spec.min) || (spec.max !== undefined && n > spec.max)) return undefined;
      return { value: n };
    }
    case 'boolean':
      if (typeof value === 'boolean') return { value };
      if (typeof value === 'string' || typeof value === 'number') return TRUE.test(String(value)) ? { value: true } : FALSE.test(String(value)) ? { value: false } : undefined;
      return undefined;
    case 'size':
      try {
        parseSize(value);
        return { value };
      } catch {
        return undefined;
      }
    case 'enum':
      return scalar && spec.values!.map(String).includes(String(value)) ? { value: spec.values!.find((v) => String(v) === String(value)) } : undefined;
    case 'pattern':
      return scalar && new RegExp(`^(?:${spec.pattern})$`).test(String(value)) ? { value: String(value) } : undefined;
    case 'hostname':
      return typeof value === 'string' && isHostname(value) ? { value } : undefined;
  }
}

export { closest } from '../model/names.js';
