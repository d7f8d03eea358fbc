/**
 * Variable definitions across a recipe and the files it extends, with
 * overrides from `--set` and UMLBUILD_VAR_<NAME> in the environment.
 * A definition is a plain default, or a mapping
 * `{ default, required, secret, description }`. Values from outside are
 * literal (no `${}` expansion); a variable made from a secret one is secret.
 */
import type { RecipeIssue } from '../errors.js';
import { generatePassword } from '../host/generated-password.js';
import { variableSpec, type VariableSpec } from './schema.js';
import type { RecipeSource } from './source.js';
import { looksSecret, resolveVariables, type Vars } from './variables.js';

export interface VariableOverrides {
  /** From `--set key=value` (later wins). */
  set?: Record<string, string>;
  /** Usually process.env; UMLBUILD_VAR_<NAME> (any case) overrides <name>. */
  env?: NodeJS.ProcessEnv;
}

interface Def {
  spec: VariableSpec;
  source: RecipeSource;
}

const SPEC_KEYS = new Set(['default', 'required', 'secret', 'generate', 'description']);

function isSpec(v: unknown): v is Record<string, unknown> {
  return !!v && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).every((k) => SPEC_KEYS.has(k));
}

/** A string from the command line or environment, typed like the default. */
export function coerce(value: string, like: unknown): unknown {
  if (typeof like === 'number' && /^-?\d+(\.\d+)?$/.test(value)) return Number(value);
  if (typeof like === 'boolean' && /^(true|false|yes|no|1|0)$/i.test(value)) return /^(true|yes|1)$/i.test(value);
  if (Array.isArray(like)) return value.split(',').map((s) => s.trim()).filter(Boolean);
  return value;
}

export function readVariables(
  layers: { source: RecipeSource; data: Record<string, unknown> }[],
  opts: VariableOverrides,
  issues: RecipeIssue[],
): { vars: Vars; raw: Vars; secretVars: Set<string>; origin: Map<string, string>; uses: Map<string, Set<string>>; generated: Map<string, string> } {
  const defs = new Map<string, Def>();
  for (const { source, data } of layers) {
    const v = data.variables;
    if (!v || typeof v !== 'object') continue;
    for (const [name, value] of Object.entries(v)) {
      let spec: VariableSpec = { default: value };
      if (isSpec(value)) {
        const parsed = variableSpec.safeParse(value);
        if (parsed.success) spec = parsed.data;
      } else if (value && typeof value === 'object' && !Array.isArray(value)) {
        issues.push(source.issue(['variables', name], 'a variable is a value or a mapping of default, required, secret, description'));
      }
      const prev = defs.get(name)?.spec;
      defs.set(name, { spec: prev ? { ...prev, ...spec } : spec, source });
    }
  }

  const raw: Vars = {};
  for (const [name, { spec }] of defs) raw[name] = spec.default ?? (spec.required ? undefined : '');

  /** Variables given from outside the recipe, and by what. */
  const origin = new Map<string, string>();
  const byUpper = new Map([...defs.keys()].map((n) => [n.toUpperCase(), n]));
  for (const [key, value] of Object.entries(opts.env ?? {})) {
    const m = /^UMLBUILD_VAR_(.+)$/.exec(key);
    const name = m && byUpper.get(m[1]!.toUpperCase());
    if (name && value !== undefined) {
      raw[name] = coerce(value, defs.get(name)!.spec.default);
      origin.set(name, key);
    }
  }
  for (const [name, value] of Object.entries(opts.set ?? {})) {
    if (!defs.has(name)) {
      issues.push({ file: '--set', path: name, message: `unknown variable "${name}" (the recipe defines: ${[...defs.keys()].sort().join(', ') || 'none'})` });
      continue;
    }
    raw[name] = coerce(value, defs.get(name)!.spec.default);
    origin.set(name, `--set ${name}`);
  }

  for (const [name, { spec, source }] of defs) {
    const v = raw[name];
    if (spec.required && (v === undefined || v === null || v === '')) {
      const how = `--set ${name}=... or UMLBUILD_VAR_${name.toUpperCase()}`;
      issues.push(source.issue(['variables', name], `variable "${name}" is required: ${spec.description ? `${spec.description}; ` : ''}give it with ${how}`, { key: true }));
    }
  }

  const generated = generateSecrets(defs, raw, issues);
  const { vars, problems, uses } = resolveVariables(raw, new Set([...origin.keys(), ...generated.keys()]));
  for (const p of problems) issues.push(defs.get(p.name)!.source.issue(['variables', p.name], p.message, { key: true }));
  const declared = new Set([...defs].filter(([n, d]) => d.spec.secret ?? looksSecret(n)).map(([n]) => n));
  const secretVars = new Set([...defs.keys()].filter((n) => [...(uses.get(n) ?? [n])].some((d) => declared.has(d))));
  return { vars, raw, secretVars, origin, uses, generated };
}

const empty = (v: unknown) => v === undefined || v === null || v === '';

/**
 * `generate: true` (or `{ unless: other }`): a secret variable that is still
 * empty once the recipe, --set and UMLBUILD_VAR_* have spoken gets a random
 * password (literal, like a value from outside), so no image has a
 * well-known one. `unless` names a variable that, when given, makes this one
 * unneeded (a password hash).
 */
function generateSecrets(defs: Map<string, Def>, raw: Vars, issues: RecipeIssue[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const [name, { spec, source }] of defs) {
    if (!spec.generate) continue;
    const unless = spec.generate === true ? undefined : spec.generate.unless;
    if (!spec.secret) issues.push(source.issue(['variables', name, 'generate'], `variable "${name}" is generated: it must be secret: true`));
    else if (unless !== undefined && !defs.has(unless)) issues.push(source.issue(['variables', name, 'generate', 'unless'], `no variable "${unless}"`));
    else if (empty(raw[name]) && (unless === undefined || empty(raw[unless]))) {
      raw[name] = generatePassword();
      out.set(name, raw[name] as string);
    }
  }
  return out;
}
