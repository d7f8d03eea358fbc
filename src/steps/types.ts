/** The one interface every step implements, and the contexts it gets. */
import type { z } from 'zod';
import type { ExecOptions, ExecResult } from '../host/exec.js';
import type { Teardown } from '../host/teardown.js';
import type { WriteOptions } from '../host/rootfs-path.js';
import type { BootstrapCache } from '../cache/store.js';
import type { EditTarget, FileEdit } from '../edits/model.js';
import type { BuildFacts } from '../model/facts.js';
import type { StepTraits } from './traits.js';

export interface Step<O> {
  /** The `step:` value in YAML. */
  readonly kind: string;
  /** One line for `umlbuild steps`. */
  readonly summary: string;
  /** Strict: an unknown key is an error. */
  readonly schema: z.ZodType<O>;
  /** Hidden from `umlbuild steps` (test-only steps). */
  readonly hidden?: boolean;
  /** What the step needs, makes and is (steps/traits.ts): everything outside steps/ selects steps by these, never by kind. */
  readonly traits?: StepTraits<O>;
  /** Option keys whose values are secrets (redacted in the plan). */
  readonly secretKeys?: readonly string[];
  /**
   * Variables the step reads by name (not through its options), each with
   * the kind of value it must be, and the step's own values that override
   * them: checked when the recipe is loaded.
   */
  inputs?(o: O): { schemas: Record<string, z.ZodType>; data: Record<string, unknown> };
  title(o: O): string;
  /** What the step will use that only this host decides (a mirror, a keyring), each with where it came from: `--dry-run` shows it. */
  resolved?(o: O): Promise<Record<string, string>>;
  /** No side effects; every step verifies before any runs. */
  verify?(o: O, ctx: VerifyContext): Promise<void>;
  /** Register teardown the moment a resource exists. */
  run(o: O, ctx: StepContext): Promise<void>;
  /**
   * A step that only edits files describes its change here, once, as data
   * (edits/model); its `run` applies them to the tree (steps/file-edits),
   * and a warm build applies the same edits to a copy of a cached base image
   * with debugfs (runner/fast-path). Having it is what marks a step as one
   * that only edits files (`editsFiles`).
   */
  edits?(o: O, ctx: EditContext): Promise<FileEdit[]>;
}

/** What `edits` sees: the target's files (a tree or an image), read-only, and the build's facts. */
export interface EditContext extends EditTarget {
  recipeDir: string;
  vars: Readonly<Record<string, unknown>>;
  facts: BuildFacts;
  reproducible?: { epoch: number; uuid: string };
  exec(cmd: string, args: readonly string[], opts?: ExecOptions): Promise<ExecResult>;
  log(line: string): void;
}

/** Whether a step only edits files (it describes its change as `edits`). */
export const editsFiles = (step: Pick<AnyStep, 'edits'>): boolean => !!step.edits;

// biome-ignore lint/suspicious/noExplicitAny: the registry holds steps of every options type; each step file is typed with its own
export type AnyStep = Step<any>;

export interface VerifyContext {
  /** Directory of the recipe file (relative paths resolve against it). */
  recipeDir: string;
  vars: Readonly<Record<string, unknown>>;
  /** Report a problem with this step's options; `key` is a path inside them. */
  problem(message: string, key?: string): void;
  /** Note that a host tool is needed; reported (exit 3) if missing. */
  requireTool(tool: string): Promise<void>;
  /**
   * Note that the step must run as root; `userns: true` when root inside a
   * user namespace will do (chroot, file ownership), so an ordinary user can
   * run it rootless.
   */
  requireRoot(why: string, opts?: { userns?: boolean }): void;
  /** Note a host need that is not a tool (a device, a kernel feature); reported with exit 3. */
  requireHost(need: string): void;
  /** The environment of commands that fetch packages: proxies (host/proxy `fetchEnv`). */
  fetchEnv?: Readonly<Record<string, string>>;
  /** The step will not run: a warm build takes its result from the base-image cache. Checks that cost time (asking a mirror) are skipped. */
  cached?: boolean;
}

export interface MountedRoot {
  dir: string;
  device: string;
  /** Releasing these in order unmounts, detaches and removes the mount point. */
  release(): Promise<void>;
}

export interface StepContext {
  recipeDir: string;
  /** The recipe file being built. */
  recipeFile: string;
  vars: Readonly<Record<string, unknown>>;
  /** The image file being built (a temporary name beside the output). */
  image: string;
  /** The root directory of a hostfs build (a temporary name beside the output). */
  rootDir: string;
  /** Whether the image file has been created. */
  imageCreated: boolean;
  /** The directory being assembled; set by `mount`. */
  rootfs?: string;
  mounted?: MountedRoot;
  facts: BuildFacts;
  /** The bootstrap cache, unless disabled (--no-cache). */
  cache?: BootstrapCache;
  /** Rebuild cache entries instead of using them (--refresh). */
  refreshCache?: boolean;
  /** Reproducible builds: the epoch times are clamped to and the filesystem UUID. */
  reproducible?: { epoch: number; uuid: string };
  teardown: Teardown;
  signal: AbortSignal;
  log(line: string): void;
  /** Run a host command (through host/exec), streaming output to the task. */
  exec(cmd: string, args: readonly string[], opts?: ExecOptions): Promise<ExecResult>;
  /**
   * Added to the environment of commands that fetch packages (the bootstrap
   * tools, commands in the chroot), and only theirs: the caller's proxy
   * variables and the recipe's apt_proxy (host/proxy `fetchEnv`).
   */
  fetchEnv?: Readonly<Record<string, string>>;
  /** The rootfs directory, or an error saying which step should come first. */
  requireRootfs(): string;
  /** Write a file inside the rootfs, never following links out of it. */
  writeFile(path: string, content: string | Buffer, opts?: WriteOptions): Promise<string>;
  /** Record facts from the mounted rootfs (packages) before it goes away. */
  collectFacts(): Promise<void>;
}
