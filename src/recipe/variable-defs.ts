/**
 * Variable definitions across a recipe and the files it extends, with
 * overrides from `--set` and UMLBUILD_VAR_<NAME> in the environment.
 * A definition is a plain default, or a mapping `{ default, required,
 * secret, description, type, ... }` (see var-types.ts). Values from outside
 * are literal (no `${}` expansion); a variable made from a secret one is
 * secret. A problem with a value given from outside is told at the flag or
 * environment variable that gave it, never with the value of a secret.
 */
import type { RecipeIssue } from '../errors.js';
import { generatePassword } from '../host/generated-password.js';
import type { KeyPath, RecipeSource } from './source.js';
import { closest, convert, describeType, SPEC_KEYS, specProblems, variableSpec, type VariableSpec } from './var-types.js';
import { looksSecret, resolveVariables, type Vars } from './variables.js';
import { zodIssues } from './zod-issues.js';

export interface VariableOverrides {
  /** From `--set key=value` (later wins). */
  set?: Record<string, string>;
  /** Usually process.env; UMLBUILD_VAR_<NAME> (any case after the prefix) overrides <name>. */
  env?: NodeJS.ProcessEnv;
}

interface Def {
  spec: VariableSpec;
  /** The layer that defined it last. */
  source: RecipeSource;
  /** Where each key of the spec was set last (the default: its value). */
  at: Map<string, { source: RecipeSource; path: KeyPath }>;
  /** Its spec did not parse: no type checks. */
  broken?: boolean;
}

/** A string from the command line or environment, typed like the default (variables without a type). */
export function coerce(value: string, like: unknown): unknown {
  if (typeof like === 'number' && /^-?\d+(\.\d+)?$/.test(value)) return Number(value);
  if (typeof like === 'boolean' && /^(true|false|yes|no|1|0)$/i.test(value)) return /^(true|yes|1)$/i.test(value);
  if (Array.isArray(like))
    return value
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  return value;
}

/** Type problems of variables' values, by variable name. */
export type ValueCheck = (values: Vars, given: ReadonlySet<string>) => { name: string; message: string }[];

const isEmpty = (v: unknown) => v === undefined || v === null || v === '';

export function readDefs(layers: { source: RecipeSource; data: Record<string, unknown> }[], issues: RecipeIssue[]): Map<string, Def> {
  const defs = new Map<string, Def>();
  for (const { source, data } of layers) {
    const v = data.variables;
    if (!v || typeof v !== 'object') continue;
    for (const [name, value] of Object.entries(v)) {
      const base: KeyPath = ['variables', name];
      const prev = defs.get(name);
      const at = new Map(prev?.at);
      let spec: VariableSpec = { default: value };
      let broken = prev?.broken;
      if (value && typeof value === 'object' && !Array.isArray(value)) {
        const parsed = variableSpec.safeParse(value);
        if (parsed.success) spec = parsed.data;
        else {
          const isSpec = Object.keys(value).some((k) => SPEC_KEYS.has(k));
          issues.push(...(isSpec ? zodIssues(source, base, parsed.error, variableSpec) : [source.issue(base, `a variable is a value or a mapping of ${[...SPEC_KEYS].join(', ')}`)]));
          spec = {};
          broken = true;
        }
        for (const k of Object.keys(spec)) at.set(k, { source, path: [...base, k] });
      } else at.set('default', { source, path: base });
      defs.set(name, { spec: { ...prev?.spec, ...spec }, source, at, broken });
    }
  }
  for (const [name, d] of defs) {
    if (d.broken) continue;
    const where = (k: string) => d.at.get(k) ?? { source: d.source, path: ['variables', name] };
    for (const [key, message, below] of specProblems(d.spec)) {
      const w = where(key);
      issues.push(w.source.issue(below ? [...w.path, below] : w.path, message, { key: true }));
      d.broken = true;
    }
    for (const [value, names] of Object.entries(d.spec.requires ?? {})) {
      const w = where('requires');
      for (const n of names) if (!defs.has(n)) issues.push(w.source.issue([...w.path, value], `requires variable "${n}", which the recipe does not define`));
    }
  }
  return defs;
}

export function readVariables(
  layers: { source: RecipeSource; data: Record<string, unknown> }[],
  opts: VariableOverrides,
  issues: RecipeIssue[],
): { vars: Vars; raw: Vars; secretVars: Set<string>; origin: Map<string, string>; uses: Map<string, Set<string>>; warnings: string[]; checkValues: ValueCheck; invalid: Set<string>; generated: Map<string, string> } {
  const defs = readDefs(layers, issues);
  const warnings: string[] = [];
  const raw: Vars = {};
  for (const [name, { spec }] of defs) raw[name] = spec.default ?? (spec.required ? undefined : '');
  const declared = new Set([...defs].filter(([n, d]) => d.spec.secret ?? looksSecret(n)).map(([n]) => n));

  /** Variables given from outside the recipe, and by what. */
  const origin = new Map<string, string>();
  const give = (name: string, value: string, by: string) => {
    const spec = defs.get(name)!.spec;
    raw[name] = spec.type ? (convert(spec, value)?.value ?? value) : coerce(value, spec.default);
    origin.set(name, by);
  };
  const byUpper = new Map([...defs.keys()].map((n) => [n.toUpperCase(), n]));
  for (const [key, value] of Object.entries(opts.env ?? {})) {
    const m = /^UMLBUILD_VAR_(.+)$/.exec(key);
    if (!m || value === undefined) continue;
    const name = byUpper.get(m[1]!.toUpperCase());
    if (name) give(name, value, key);
    else {
      // A warning, not an error: CI often exports UMLBUILD_VAR_* for several recipes at once.
      const near = closest(m[1]!, defs.keys());
      warnings.push(`${key} names no variable of this recipe, ignored${near ? ` (did you mean UMLBUILD_VAR_${near.toUpperCase()}?)` : ''}`);
    }
  }
  for (const [name, value] of Object.entries(opts.set ?? {})) {
    if (!defs.has(name)) {
      const near = closest(name, defs.keys());
      issues.push({ file: '--set', path: name, message: `unknown variable "${name}" (the recipe defines: ${[...defs.keys()].sort().join(', ') || 'none'})${near ? `; did you mean "${near}"?` : ''}` });
      continue;
    }
    give(name, value, `--set ${name}`);
  }

  for (const [name, { spec, source }] of defs) {
    if (!spec.required || !isEmpty(raw[name])) continue;
    const by = origin.get(name);
    if (by) issues.push({ file: by, path: '', message: `variable "${name}" is required and may not be empty` });
    else issues.push(source.issue(['variables', name], `variable "${name}" is required: ${spec.description ? `${spec.description}; ` : ''}give it with --set ${name}=... or UMLBUILD_VAR_${name.toUpperCase()}`, { key: true }));
  }

  const generated = generateSecrets(defs, raw, issues);
  const { vars, problems, uses } = resolveVariables(raw, new Set([...origin.keys(), ...generated.keys()]));
  for (const p of problems) issues.push(defs.get(p.name)!.source.issue(['variables', p.name], p.message, { key: true }));
  const secretVars = new Set([...defs.keys()].filter((n) => [...(uses.get(n) ?? [n])].some((d) => declared.has(d))));
  const o = { origin, uses, secretVars };
  const invalid = new Set<string>();
  for (const p of typeProblems(defs, vars, secretVars, (n) => origin.has(n))) {
    issues.push(valueIssue(p.name, defs.get(p.name)!, o, p.message));
    if (!p.requires) invalid.add(p.name);
  }
  /** The same checks on a variant's values (`given`: the names it sets). */
  const checkValues = (values: Vars, given: ReadonlySet<string>) => typeProblems(defs, values, secretVars, (n) => given.has(n) || origin.has(n));
  return { vars, raw, secretVars, origin, uses, warnings, checkValues, invalid, generated };
}

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
    else if (isEmpty(raw[name]) && (unless === undefined || isEmpty(raw[unless]))) {
      raw[name] = generatePassword();
      out.set(name, raw[name] as string);
    }
  }
  return out;
}

interface Origins {
  origin: ReadonlyMap<string, string>;
  uses: ReadonlyMap<string, ReadonlySet<string>>;
  secretVars: ReadonlySet<string>;
}

/** An issue about the value of `name`: at the flag or environment variable that gave it, else at its default in the recipe. */
function valueIssue(name: string, def: Def, o: Origins, message: string): RecipeIssue {
  const by = o.origin.get(name);
  if (by) return { file: by, path: '', message };
  const w = def.at.get('default') ?? { source: def.source, path: ['variables', name] };
  const from = [...(o.uses.get(name) ?? [])].flatMap((n) => (n !== name && o.origin.get(n)) || []);
  return w.source.issue(w.path, `${message}${from.length ? ` (made from ${from.join(', ')})` : ''}`);
}

/**
 * Each typed variable's value is of its type (converted in place); a value
 * that requires others has them set. `given`: names whose value was given
 * (an empty value of a variable without default and not given is not set).
 */
function typeProblems(defs: ReadonlyMap<string, Def>, vars: Vars, secret: ReadonlySet<string>, given: (name: string) => boolean): { name: string; message: string; requires?: true }[] {
  const out: { name: string; message: string; requires?: true }[] = [];
  const shown = (name: string, v: unknown) => (secret.has(name) ? 'its value (secret, not shown)' : JSON.stringify(v)?.slice(0, 80));
  for (const [name, def] of defs) {
    const { spec } = def;
    const v = vars[name];
    if (!spec.type || def.broken || v === undefined) continue;
    if (v === '' && spec.default === undefined && !given(name)) continue;
    const c = convert(spec, v);
    if (c) vars[name] = c.value;
    else out.push({ name, message: `variable "${name}" must be ${describeType(spec)}; ${shown(name, v)} is not` });
  }
  for (const [name, def] of defs) {
    const list = def.spec.requires?.[String(vars[name])];
    const missing = (list ?? []).filter((n) => defs.has(n) && isEmpty(vars[n]));
    if (!missing.length) continue;
    const what = secret.has(name) ? 'has a value that' : `is ${JSON.stringify(vars[name])}, which`;
    out.push({ name, requires: true, message: `variable "${name}" ${what} requires ${missing.map((n) => `"${n}"`).join(' and ')}: give ${missing.length > 1 ? 'them' : 'it'} with ${missing.map((n) => `--set ${n}=...`).join(' ')}` });
  }
  return out;
}
