/** A parsed YAML recipe file that can say where any key path is. */
import { readFile } from 'node:fs/promises';
import { LineCounter, parseDocument, isAlias, isMap, isNode, visit, type Document, type Node } from 'yaml';
import type { RecipeIssue } from '../errors.js';

export type KeyPath = (string | number)[];

/** How far aliases may expand (the yaml package's count): more is an alias bomb ("billion laughs"). */
const MAX_ALIAS_COUNT = 100;

export class RecipeSource {
  private data: Record<string, unknown> = {};

  private constructor(
    readonly file: string,
    readonly doc: Document,
    private readonly lines: LineCounter,
  ) {}

  static async read(file: string): Promise<{ source?: RecipeSource; issues: RecipeIssue[] }> {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      return { issues: [{ file, path: '', message: code === 'ENOENT' ? 'no such file' : `cannot read: ${(e as Error).message}` }] };
    }
    const lines = new LineCounter();
    const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
    const source = new RecipeSource(file, doc, lines);
    const issues: RecipeIssue[] = doc.errors.map((err) => {
      const pos = err.linePos?.[0] ?? lines.linePos(err.pos[0]);
      return { file, line: pos.line, col: pos.col, path: '', message: `YAML: ${err.message.split('\n')[0]}` };
    });
    if (!issues.length && !isMap(doc.contents)) {
      issues.push({ file, line: 1, col: 1, path: '', message: 'a recipe must be a YAML mapping (name, variables, steps, ...)' });
    }
    if (!issues.length) {
      try {
        source.data = (doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT }) ?? {}) as Record<string, unknown>;
      } catch (e) {
        if (!(e instanceof ReferenceError)) throw e;
        // The yaml package stops an expansion that grows too much (or an alias it cannot resolve).
        issues.push({ file, ...source.firstAlias(), path: '', message: `YAML: aliases expand too much or do not resolve (an alias bomb?): ${e.message}` });
      }
    }
    return { source: issues.length ? undefined : source, issues };
  }

  /** Where the first alias (*name) is. */
  private firstAlias(): { line?: number; col?: number } {
    let at: number | undefined;
    visit(this.doc, {
      Alias(_key, node) {
        if (isAlias(node) && node.range) {
          at = node.range[0];
          return visit.BREAK;
        }
      },
    });
    if (at === undefined) return {};
    const pos = this.lines.linePos(at);
    return { line: pos.line, col: pos.col };
  }

  /** The document as plain data (aliases expanded, within MAX_ALIAS_COUNT). */
  toJS(): Record<string, unknown> {
    return this.data;
  }

  /** Where a key path is (or the nearest parent that exists). `key` points at the key itself. */
  locate(path: KeyPath, key = false): { line?: number; col?: number } {
    for (let n = path.length; n >= 0; n--) {
      const sub = path.slice(0, n);
      let node: unknown;
      if (key && n === path.length && n > 0) {
        const parent = this.doc.getIn(sub.slice(0, -1), true);
        if (isMap(parent)) {
          const pair = parent.items.find((p) => (isNode(p.key) ? (p.key as { value?: unknown }).value : p.key) === sub[n - 1]);
          node = pair?.key;
        }
      }
      node ??= n === 0 ? this.doc.contents : this.doc.getIn(sub, true);
      const range = isNode(node) ? (node as Node).range : undefined;
      if (range) {
        const pos = this.lines.linePos(range[0]);
        return { line: pos.line, col: pos.col };
      }
    }
    return {};
  }

  issue(path: KeyPath, message: string, opts: { key?: boolean; shown?: KeyPath } = {}): RecipeIssue {
    return { file: this.file, ...this.locate(path, opts.key), path: formatPath(opts.shown ?? path), message };
  }
}

export function formatPath(path: KeyPath): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}
