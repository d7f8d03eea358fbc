/** `umlbuild steps`: each step kind with its options, from its zod schema. */
import { z } from 'zod';
import { EXIT, UserError } from './errors.js';
import { didYouMean } from './model/names.js';
import { STEPS, stepKinds } from './steps/index.js';

export function describeOptions(schema: z.ZodType): string[] {
  const json = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as {
    properties?: Record<string, { type?: string; default?: unknown; enum?: unknown[] }>;
    required?: string[];
  };
  return Object.entries(json.properties ?? {}).map(([key, p]) => {
    const type = p.enum ? p.enum.join(' | ') : (p.type ?? 'value');
    const req = json.required?.includes(key) && p.default === undefined ? ' (required)' : '';
    const def = p.default !== undefined ? ` = ${JSON.stringify(p.default)}` : '';
    return `    ${key}: ${type}${def}${req}`;
  });
}

/** Every step kind (but the test-only ones), or only `kind`. */
export function stepsText(kind?: string): string {
  if (kind !== undefined && !stepKinds().includes(kind)) throw new UserError(`unknown step kind "${kind}"${didYouMean(kind, stepKinds())} (one of: ${stepKinds().join(', ')})`, EXIT.invalid);
  return STEPS.filter((s) => !s.hidden && (kind === undefined || s.kind === kind))
    .map((s) => [`${s.kind}  ${s.summary}`, ...describeOptions(s.schema)].join('\n'))
    .join('\n\n');
}
