/**
 * Where variables flow: which recipe fields each variable reached (through
 * `${name}`, directly or through other variables). Problems with a field are
 * told with the variables that filled it and where they were given (`--set`,
 * UMLBUILD_VAR_*). A secret variable may reach only secret fields: it may
 * not name the output, nor go into launch: or test: (the manifest and launch
 * script) or into what a built-in template writes. Step options may carry
 * secrets (a run command may need one): they stay out of the manifest, and
 * titles and logs are masked.
 */
import type { z } from 'zod';
import type { RecipeIssue } from '../errors.js';
import type { PlannedStep } from './plan-step.js';
import { formatPath, type KeyPath, type RecipeSource } from './source.js';
import type { OnRef, Vars } from './variables.js';

export interface VariableOrigins {
  /** Secret variables (by definition or name). */
  secretVars: ReadonlySet<string>;
  /** Each variable and every variable its value came from. */
  uses: ReadonlyMap<string, ReadonlySet<string>>;
  /** Variables given from outside the recipe: name -> `--set NAME` or `UMLBUILD_VAR_NAME`. */
  origin: ReadonlyMap<string, string>;
  /** Variables whose value was refused by their type (already reported): problems of the fields they fill are not told again. */
  invalid?: ReadonlySet<string>;
}

interface Reached {
  source: RecipeSource;
  path: KeyPath;
  names: Set<string>;
  secretField: boolean;
}

export class VariableFlow {
  private readonly reached = new Map<string, Reached>();

  constructor(private readonly v: VariableOrigins) {}

  /** Every variable `name` came from, itself included. */
  sources(name: string): string[] {
    return [...(this.v.uses.get(name) ?? [name])];
  }

  /** The secret variables behind `name` (the first secret ones, not those made from them). */
  secretsIn(name: string): string[] {
    const secret = (n: string) => this.v.secretVars.has(n);
    return this.sources(name).filter((n) => secret(n) && this.sources(n).every((d) => d === n || !secret(d)));
  }

  /** An interpolation callback recording what reaches the fields below `base`; keys in `secretKeys` are secret fields ('any': all are). */
  onRef(source: RecipeSource, base: KeyPath, secretKeys: readonly string[] | 'any' = []): OnRef {
    return (path, name) => {
      const full = [...base, ...path];
      const key = `${source.file}\0${formatPath(full)}`;
      const secretField = secretKeys === 'any' || path.some((p) => typeof p === 'string' && secretKeys.includes(p));
      const entry = this.reached.get(key) ?? { source, path: full, names: new Set<string>(), secretField };
      entry.names.add(name);
      this.reached.set(key, entry);
    };
  }

  /** The variables that reached the field at `path` (or below it). */
  namesAt(source: RecipeSource, path: KeyPath): string[] {
    return this.namesUnder(source.file, formatPath(path));
  }

  private namesUnder(file: string, at: string): string[] {
    const under = (p: string) => p === at || p.startsWith(`${at}.`) || p.startsWith(`${at}[`);
    return [...this.reached.values()].filter((r) => r.source.file === file && under(formatPath(r.path))).flatMap((r) => [...r.names]);
  }

  /** " (from variable X, given with --set X=...)" for the variables named. */
  describe(names: Iterable<string>): string {
    const list = [...new Set(names)];
    if (!list.length) return '';
    const given = this.givenBy(list);
    return ` (value of variable ${list.map((n) => `"${n}"`).join(', ')}${given ? `; given by ${given}` : ''})`;
  }

  /** "--set hostname, UMLBUILD_VAR_ADDRESS": where the variables behind `names` came from outside the recipe. */
  givenBy(names: string[]): string {
    return [...new Set(names.flatMap((n) => this.sources(n)))].flatMap((n) => this.v.origin.get(n) ?? []).join(', ');
  }

  /** A value made from a variable already refused by its type. */
  private invalid(names: Iterable<string>): boolean {
    return [...names].some((n) => this.sources(n).some((d) => this.v.invalid?.has(d)));
  }

  /** Add to each issue (from `from` on) the variables that filled its field; drop those about a value already refused by its type. */
  annotate(issues: RecipeIssue[], from = 0): void {
    for (let i = issues.length - 1; i >= from; i--) {
      const issue = issues[i]!;
      const names = this.namesUnder(issue.file, issue.path);
      if (this.invalid(names)) issues.splice(i, 1);
      else issue.message += this.describe(names);
    }
  }

  /** A secret variable in a field that is not secret. */
  secretLeaks(): RecipeIssue[] {
    const out: RecipeIssue[] = [];
    for (const r of this.reached.values()) {
      if (r.secretField) continue;
      for (const name of r.names) {
        const secrets = this.secretsIn(name);
        if (!secrets.length) continue;
        const via = secrets.includes(name) ? '' : ` through variable "${name}"`;
        out.push(r.source.issue(r.path, `secret variable ${secrets.map((s) => `"${s}"`).join(', ')} flows${via} into ${formatPath(r.path)}, which is not a secret field (secrets go only to password fields)`));
      }
    }
    return out;
  }

  /**
   * Variables a step reads directly (the built-in templates): each checked
   * by its kind, and none may be secret. `locals` are the values it sees.
   */
  checkInputs(inputs: Record<string, z.ZodType>, locals: Vars, overridden: ReadonlySet<string>, issue: (message: string) => RecipeIssue, dataRefs: (name: string) => string[] = () => []): RecipeIssue[] {
    const out: RecipeIssue[] = [];
    for (const [name, schema] of Object.entries(inputs)) {
      if (!(name in locals)) continue;
      const fromVar = !overridden.has(name);
      if (fromVar && this.invalid([name])) continue;
      const parsed = schema.safeParse(locals[name]);
      const what = fromVar ? `variable "${name}"` : `data.${name}`;
      const given = fromVar ? this.givenBy([name]) : '';
      if (!parsed.success) out.push(issue(`${what}: ${parsed.error.issues[0]?.message ?? 'not valid here'}${given ? ` (given by ${given})` : ''}`));
      const secrets = [...new Set((fromVar ? [name] : dataRefs(name)).flatMap((n) => this.secretsIn(n)))];
      if (secrets.length) out.push(issue(`secret variable ${secrets.map((s) => `"${s}"`).join(', ')} flows into ${what}, which this template writes in the clear`));
    }
    return out;
  }
}

/** Check what planned steps read by name (step.inputs) against `vars`. */
export function checkStepInputs(flow: VariableFlow, steps: PlannedStep[], vars: Vars, issues: RecipeIssue[]): void {
  for (const s of steps) {
    const want = s.step.inputs?.(s.options);
    if (!want) continue;
    const locals = { ...vars, ...want.data };
    issues.push(
      ...flow.checkInputs(
        want.schemas,
        locals,
        new Set(Object.keys(want.data)),
        (m) => s.source.issue(s.at, m),
        (name) => flow.namesAt(s.source, [...s.at, 'data', name]),
      ),
    );
  }
}
