/**
 * `umlbuild schema`: a JSON Schema of the recipe format, generated from the
 * same zod schemas that validate recipes, so editors (yaml-language-server)
 * check and complete recipes. Any option may also be a `${variable}`
 * reference, which the schema allows wherever a non-string value goes.
 * `recipes/recipe.schema.json` is this output; the shipped recipes point to it.
 */
import { z } from 'zod';
import { launchSchema } from './launch/schema.js';
import { recipeFileSchema, testSchema, variableSpec } from './recipe/schema.js';
import { STEPS } from './steps/index.js';
import { VERSION } from './version.js';

type Json = Record<string, unknown>;
const VARIABLE = { type: 'string', pattern: '\\$\\{[A-Za-z_][A-Za-z0-9_]*\\}' };

function toJson(schema: z.ZodType): Json {
  const js = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any', target: 'draft-7' }) as Json;
  delete js.$schema;
  return js;
}

/** Let `${name}` stand wherever a non-string value is expected. */
function allowVariables(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(allowVariables);
  if (!node || typeof node !== 'object') return node;
  const out: Json = {};
  for (const [k, v] of Object.entries(node as Json)) {
    if (k === 'properties' && v && typeof v === 'object') out[k] = Object.fromEntries(Object.entries(v as Json).map(([p, s]) => [p, allowVariables(s)]));
    else if (['items', 'additionalProperties', 'anyOf', 'oneOf', 'allOf'].includes(k)) out[k] = allowVariables(v);
    else out[k] = v;
  }
  const type = out.type;
  const constrainedString = type === 'string' && (out.pattern !== undefined || out.enum !== undefined || out.format !== undefined);
  if ((type !== undefined && type !== 'string') || constrainedString) return { anyOf: [out, VARIABLE] };
  return out;
}

function stepSchema(kind: string, schema: z.ZodType, summary: string): Json {
  const js = allowVariables(toJson(schema)) as Json;
  const body = (js.anyOf ? (js.anyOf as Json[])[0] : js) as Json;
  return { ...body, description: summary, properties: { step: { const: kind }, ...((body.properties as Json) ?? {}) }, required: ['step', ...((body.required as string[]) ?? [])] };
}

export function recipeJsonSchema(): Json {
  const steps = { type: 'array', items: { anyOf: STEPS.filter((s) => !s.hidden).map((s) => stepSchema(s.kind, s.schema, s.summary)) } };
  const top = toJson(recipeFileSchema) as Json;
  const props = { ...(top.properties as Json) };
  props.steps = steps;
  props.variant_steps = steps;
  props.variants = { type: 'array', items: { type: 'object', required: ['name'], properties: { name: { type: 'string' }, variables: { type: 'object' }, steps } } };
  props.launch = allowVariables(toJson(launchSchema));
  props.test = allowVariables(toJson(testSchema));
  // A plain default (not a mapping), or a spec mapping (var-types.ts).
  const plain = { type: ['string', 'number', 'boolean', 'array', 'null'] };
  const spec = { ...toJson(variableSpec), description: 'a default, or { default, required, secret, generate, description, type, values, pattern, min, max, requires }' };
  props.variables = { type: 'object', propertyNames: (top.properties as { variables: Json }).variables.propertyNames, additionalProperties: { anyOf: [plain, spec] } };
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    $id: 'https://umlbuild.invalid/recipe.schema.json',
    title: `umlbuild recipe (umlbuild ${VERSION})`,
    ...top,
    properties: props,
  };
}
