/**
 * What a step is, as data the rest of umlbuild reads instead of its kind:
 * the build state it needs, makes and ends; whether a hostfs-root build drops
 * it; what else goes into a cache key; the image it writes; its size; and
 * whether a COW variant may use it. The loader checks step order from these
 * (exit 2 at validation), and features (hostfs, lockdown, tune, reproducible,
 * hooks, the fast path, variants, space hints) select steps by them.
 */
import type { ExecOptions, ExecResult } from '../host/exec.js';

/**
 * What exists while a recipe builds:
 * - image: the image file; filesystem: a filesystem on it;
 * - root: a root tree later steps write into (a mount or a directory);
 * - mount: the image is loop-mounted as that root;
 * - system: an operating system is in the root (bootstrapped, unpacked or copied).
 */
export type BuildState = 'image' | 'filesystem' | 'root' | 'mount' | 'system';

/** What a step's cache inputs may look at: the recipe's directory and host commands (tool versions). */
export interface CacheInputContext {
  recipeDir: string;
  /** Where tree digests are memoized (cache/tree-digest); none: every digest reads its tree. */
  digestMemo?: string;
  exec(cmd: string, args: readonly string[], opts?: ExecOptions): Promise<ExecResult>;
}

export interface StepTraits<O> {
  /** Build state that must exist before the step runs. */
  readonly requires?: readonly BuildState[];
  /** Build state the step creates; a root or mount that already exists cannot be made again. */
  readonly provides?: readonly BuildState[];
  /** Build state that ends with the step (unmount ends the mount and its root; pack ends the tree). */
  readonly releases?: readonly BuildState[];
  /** Only part of making and mounting a disk image: a hostfs-root build replaces these with a directory step. */
  readonly imageOnly?: boolean;
  /** Neither reads nor writes what file edits touch: the fast path may apply earlier edits after it, on the packed image. */
  readonly leavesEdits?: boolean;
  /** What decides the step's result besides its options (a resolved mirror, a script's or a tree's contents): part of the base image's cache key. */
  cacheInputs?(o: O, ctx: CacheInputContext): Promise<unknown>;
  /** The image the step writes (its filesystem, and the output file's extension). */
  output?(o: O): { fs: string; extension: string };
  /** The size of the image file the step creates, as written in the recipe (key `size`), if it sets one. */
  size?(o: O): string | number | undefined;
  /** In a COW variant: `tree` runs on the files staged for the guest; `guest` becomes a command run inside it. Absent: not in variants. */
  readonly inVariant?: 'tree' | 'guest';
  /** Why the fast path cannot apply this step's edits to the packed image (undefined: it can). */
  fastPathBlocker?(o: O): string | undefined;
  /** The full config file of the kernel the step builds, when it is known before building (a `kernel` step given a whole `config:` file): checked against the launch configuration at validation (runner/kernel-check). */
  knownKernelConfig?(o: O, ctx: { recipeDir: string }): string | undefined;
  /** Guest files of umlbuild's own the step writes (absolute paths; a built-in template's file) that the launch configuration must agree with. */
  writes?(o: O): readonly string[];
}
