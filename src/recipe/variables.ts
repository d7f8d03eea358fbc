/**
 * Recipe variables: `${name}` in any option string or template. A string that
 * is exactly one `${name}` takes the variable's value with its type (so
 * `size: ${size}` may be a number); `$${` is a literal `${`. Using a variable
 * that is not defined is an error. Values given from outside the recipe
 * (`--set`, UMLBUILD_VAR_*) are literal: `${` in them is not expanded.
 */

const REF = /\$\$\{|\$\{([^}]*)\}/g;
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export type Vars = Record<string, unknown>;

export interface InterpolationProblem {
  /** Path inside the value being interpolated. */
  path: (string | number)[];
  message: string;
}

export function isValidName(name: string): boolean {
  return NAME.test(name);
}

/** Variable names that hold secrets unless the recipe says otherwise. */
export function looksSecret(name: string): boolean {
  return /pass(word)?|secret|token|hash|key$/i.test(name);
}

/** Called with the name of each variable a value refers to. */
export type OnRef = (path: (string | number)[], name: string) => void;

function interpolateString(s: string, vars: Vars, problems: string[], ref: (name: string) => void): unknown {
  const whole = /^\$\{([^}]*)\}$/.exec(s);
  if (whole) {
    const name = whole[1]!.trim();
    if (!(name in vars)) problems.push(undefinedMessage(name, vars));
    else ref(name);
    return vars[name];
  }
  return s.replace(REF, (m, name?: string) => {
    if (m === '$${') return '${';
    const n = (name ?? '').trim();
    if (!(n in vars)) {
      problems.push(undefinedMessage(n, vars));
      return m;
    }
    ref(n);
    const v = vars[n];
    return v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v);
  });
}

function undefinedMessage(name: string, vars: Vars): string {
  if (!isValidName(name)) return `"\${${name}}" is not a valid variable reference`;
  const known = Object.keys(vars).sort();
  return `undefined variable "${name}"${known.length ? ` (defined: ${known.join(', ')})` : ''}`;
}

/** Replace references everywhere inside `value` (objects, arrays, strings). */
export function interpolate(value: unknown, vars: Vars, problems: InterpolationProblem[], path: (string | number)[] = [], onRef?: OnRef): unknown {
  if (typeof value === 'string') {
    const found: string[] = [];
    const out = interpolateString(value, vars, found, (name) => onRef?.(path, name));
    for (const message of found) problems.push({ path, message });
    return out;
  }
  if (Array.isArray(value)) return value.map((v, i) => interpolate(v, vars, problems, [...path, i], onRef));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = interpolate(v, vars, problems, [...path, k], onRef);
    return out;
  }
  return value;
}

/**
 * Resolve variables that refer to other variables, in any order. Reports
 * cycles and undefined references by variable name. Names in `literal` keep
 * their value as it is. `uses` maps each variable to every variable its
 * value came from (itself included, transitively).
 */
export function resolveVariables(raw: Vars, literal: ReadonlySet<string> = new Set()): { vars: Vars; problems: { name: string; message: string }[]; uses: Map<string, Set<string>> } {
  const vars: Vars = {};
  const uses = new Map<string, Set<string>>();
  const problems: { name: string; message: string }[] = [];
  const state = new Map<string, 'busy' | 'done'>();
  const visit = (name: string, chain: string[]): void => {
    if (state.get(name) === 'done') return;
    if (state.get(name) === 'busy') {
      problems.push({ name, message: `variables refer to each other in a cycle: ${[...chain, name].join(' -> ')}` });
      vars[name] = raw[name];
      return;
    }
    state.set(name, 'busy');
    const value = raw[name];
    const from = new Set([name]);
    uses.set(name, from);
    if (literal.has(name)) {
      vars[name] = value;
      state.set(name, 'done');
      return;
    }
    if (typeof value === 'string') {
      for (const m of value.matchAll(REF)) {
        const dep = (m[1] ?? '').trim();
        if (m[0] !== '$${' && dep in raw) visit(dep, [...chain, name]);
      }
    }
    const found: InterpolationProblem[] = [];
    vars[name] = interpolate(value, { ...raw, ...vars }, found, [], (_p, dep) => {
      for (const d of uses.get(dep) ?? [dep]) from.add(d);
    });
    for (const f of found) problems.push({ name, message: f.message });
    state.set(name, 'done');
  };
  for (const name of Object.keys(raw)) visit(name, []);
  return { vars, problems, uses };
}
