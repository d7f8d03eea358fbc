/** `umlbuild steps`: each step kind with its options, from its zod schema. */
import { z } from 'zod';
import { STEPS } from './steps/index.js';

function describeOptions(schema: z.ZodType): string[] {
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

export function stepsText(): string {
  return STEPS.filter((s) => !s.hidden)
    .map((s) => [`${s.kind}  ${s.summary}`, ...describeOptions(s.schema)].join('\n'))
    .join('\n\n');
}
