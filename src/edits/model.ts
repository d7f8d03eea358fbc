/**
 * The file-edit model: what a file-editing step (template, password,
 * overlay, lockdown) changes, as data. A step computes its edits once
 * (`Step.edits`); two appliers carry them out: edits/tree on a root
 * directory, edits/image on a packed ext image with debugfs. Paths are
 * absolute inside the guest. Types and small checks only.
 */
export interface Owner {
  uid: number;
  gid: number;
}

/** A file's contents: given, or copied from a file on the host. */
export type Content = string | Buffer | { hostFile: string };

interface Common {
  /** Absolute inside the guest. */
  path: string;
  /** Owner of what is created; omitted: the builder's own (root, or root in the user namespace: 0:0 in an image). */
  owner?: Owner;
}

export type FileEdit =
  /** A directory: created with `mode` and `owner` when missing; one that exists keeps its own. Missing parents are made 0755. */
  | (Common & { kind: 'dir'; mode: number })
  /**
   * A regular file, written whole. `link: 'follow'` writes through a link at
   * `path` (resolved inside the root, as chroot would); `'replace'` replaces
   * the link itself.
   */
  | (Common & { kind: 'file'; content: Content; mode: number; link: 'follow' | 'replace' })
  /** A symbolic link (replacing what is at `path`). */
  | (Common & { kind: 'symlink'; target: string })
  /** A character or block device node, or a fifo (`major`/`minor` unused). */
  | (Common & { kind: 'device'; type: 'char' | 'block' | 'fifo'; major: number; minor: number; mode: number })
  /** Another name for the file at `to` (an earlier edit's path, or one in the target). */
  | (Common & { kind: 'hardlink'; to: string })
  /** Remove what is at `path` (a directory with everything in it); a link is removed itself. */
  | { kind: 'remove'; path: string };

export type EditKind = FileEdit['kind'];

/** What a target says about a path (following links inside it). */
export interface EditStat {
  type: 'regular' | 'directory' | 'symlink' | 'other';
  /** Permission bits only (& 0o7777). */
  mode: number;
  uid: number;
  gid: number;
}

/** Read-only access to the target being edited: a root tree or an image. */
export interface EditTarget {
  /** A regular file's text; undefined when missing or not a regular file. */
  readFile(path: string): Promise<string | undefined>;
  stat(path: string): Promise<EditStat | undefined>;
}

/** Thrown when a target cannot carry out an edit (e.g. debugfs on an image); the reason says why. */
export class NotEditable extends Error {
  override name = 'NotEditable';
}

export const isHostFile = (c: Content): c is { hostFile: string } => typeof c === 'object' && !Buffer.isBuffer(c);

export const file = (path: string, content: Content, o: { mode?: number; owner?: Owner; link?: 'follow' | 'replace' } = {}): FileEdit => ({
  kind: 'file',
  path,
  content,
  mode: o.mode ?? 0o644,
  link: o.link ?? 'follow',
  ...(o.owner ? { owner: o.owner } : {}),
});
export const dir = (path: string, mode = 0o755, owner?: Owner): FileEdit => ({ kind: 'dir', path, mode, ...(owner ? { owner } : {}) });
export const symlink = (path: string, target: string, owner?: Owner): FileEdit => ({ kind: 'symlink', path, target, ...(owner ? { owner } : {}) });

/** Problems with an edit list (relative paths, bad modes, ids, empty link targets); empty when it is fine. */
export function checkEdits(edits: readonly FileEdit[]): string[] {
  const problems: string[] = [];
  for (const e of edits) {
    const say = (why: string) => problems.push(`${e.kind} ${JSON.stringify(e.path)}: ${why}`);
    if (!e.path.startsWith('/') || e.path.includes('\0')) say('not an absolute guest path');
    if (e.kind !== 'remove' && e.owner && ![e.owner.uid, e.owner.gid].every((n) => Number.isInteger(n) && n >= 0 && n < 2 ** 32)) say('owner ids must be integers from 0 to 2^32-1');
    if ('mode' in e && !(Number.isInteger(e.mode) && e.mode >= 0)) say('mode must be a non-negative integer');
    if (e.kind === 'symlink' && (!e.target || e.target.includes('\0'))) say('an empty link target');
    if (e.kind === 'hardlink' && !e.to.startsWith('/')) say('the link must name an absolute guest path');
    if (e.kind === 'device' && ![e.major, e.minor].every((n) => Number.isInteger(n) && n >= 0)) say('major and minor must be non-negative integers');
  }
  return problems;
}

/** checkEdits, thrown. */
export function assertEdits(edits: readonly FileEdit[]): void {
  const problems = checkEdits(edits);
  if (problems.length) throw new Error(`invalid file edits:\n${problems.join('\n')}`);
}
