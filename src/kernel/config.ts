/**
 * Kernel configuration files as data (pure: no I/O). A .config or a fragment
 * is lines of `CONFIG_X=y|m|"text"|123` and `# CONFIG_X is not set`; fragments
 * are merged over a base the way scripts/kconfig/merge_config.sh does (a later
 * value replaces an earlier one, each replacement reported), and after
 * `make olddefconfig` every option a fragment asked for that the final .config
 * does not have as asked is a DroppedOption. `n` and "is not set" and absent
 * are the same.
 */
import type { DroppedOption } from '../model/kernel.js';

/** CONFIG_NAME -> value as written (`y`, `m`, `n` for "is not set", `"text"`, `123`, `0x10`). */
export type KConfig = Map<string, string>;

const SET = /^(CONFIG_[A-Za-z0-9_]+)=(.*)$/;
const UNSET = /^#\s*(CONFIG_[A-Za-z0-9_]+) is not set\s*$/;
export const OPTION_NAME = /^CONFIG_[A-Za-z0-9_]+$/;
/** What a value may be in a fragment: a tristate, a quoted string, a decimal or hex number. */
export const OPTION_VALUE = /^([ymn]|"(?:[^"\\\n]|\\.)*"|-?\d+|0x[0-9a-fA-F]+)$/;

export interface ConfigLineError {
  line: number;
  text: string;
  message: string;
}

/** Parse a .config or fragment; lines that are neither an option nor a comment are errors (with their line number). */
export function parseConfig(text: string): { config: KConfig; errors: ConfigLineError[] } {
  const config: KConfig = new Map();
  const errors: ConfigLineError[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (!line) return;
    const unset = UNSET.exec(line);
    if (unset) {
      config.set(unset[1]!, 'n');
      return;
    }
    if (line.startsWith('#')) return;
    const set = SET.exec(line);
    if (!set) {
      errors.push({ line: i + 1, text: raw, message: 'not CONFIG_NAME=value or "# CONFIG_NAME is not set"' });
      return;
    }
    const value = set[2]!.trim();
    if (!OPTION_VALUE.test(value)) {
      errors.push({ line: i + 1, text: raw, message: `${set[1]}: the value ${value} is not y, m, n, a "quoted string" or a number` });
      return;
    }
    config.set(set[1]!, value);
  });
  return { config, errors };
}

export interface FragmentSource {
  /** Where it came from (a file name or `options`), for reports. */
  from: string;
  config: KConfig;
}

export interface Override {
  option: string;
  previous: string;
  value: string;
  from: string;
}

export interface Merged {
  config: KConfig;
  /** What each option was asked for by (the last fragment that set it). */
  askedBy: Map<string, string>;
  /** Values a later fragment replaced (merge_config.sh's "Value of X is redefined by fragment"). */
  overrides: Override[];
}

/** The fragments over the base in order, later winning. */
export function mergeConfigs(base: KConfig, fragments: readonly FragmentSource[]): Merged {
  const config: KConfig = new Map(base);
  const askedBy = new Map<string, string>();
  const overrides: Override[] = [];
  for (const f of fragments) {
    for (const [option, value] of f.config) {
      const previous = config.get(option);
      if (askedBy.has(option) && previous !== undefined && previous !== value) overrides.push({ option, previous, value, from: f.from });
      config.set(option, value);
      askedBy.set(option, f.from);
    }
  }
  return { config, askedBy, overrides };
}

/** A config as .config text (options in the order given; `n` written as "is not set"). */
export function renderConfig(config: KConfig): string {
  return [...config].map(([k, v]) => (v === 'n' ? `# ${k} is not set` : `${k}=${v}`)).join('\n') + (config.size ? '\n' : '');
}

const norm = (v: string | undefined) => (v === undefined || v === 'n' ? 'n' : v);

/** Every option the fragments asked for that `final` does not have as asked. */
export function droppedOptions(merged: Pick<Merged, 'config' | 'askedBy'>, final: KConfig): DroppedOption[] {
  const out: DroppedOption[] = [];
  for (const [option, from] of merged.askedBy) {
    const wanted = merged.config.get(option)!;
    const got = final.get(option);
    if (norm(wanted) === norm(got)) continue;
    out.push({ option, wanted, ...(got !== undefined && got !== 'n' ? { got } : {}), from });
  }
  return out;
}

/** `options:` of a kernel step (CONFIG_X -> value) as a fragment; a bad name or value is reported by the caller's key. */
export function optionsConfig(options: Readonly<Record<string, string>>): { config: KConfig; errors: string[] } {
  const config: KConfig = new Map();
  const errors: string[] = [];
  for (const [k, v] of Object.entries(options)) {
    if (!OPTION_NAME.test(k)) errors.push(`${k}: not an option name (CONFIG_NAME)`);
    else if (!OPTION_VALUE.test(v)) errors.push(`${k}: the value ${v} is not y, m, n, a "quoted string" or a number`);
    else config.set(k, v);
  }
  return { config, errors };
}

/** One line for a dropped option: `CONFIG_X=y (from f.config): the final .config has m`. */
export function describeDropped(d: DroppedOption): string {
  return `${d.option}=${d.wanted} (from ${d.from}) did not survive olddefconfig: the final .config has ${d.got === undefined ? 'it not set' : `${d.option}=${d.got}`} (a dependency is missing or the option does not exist on ARCH=um)`;
}
