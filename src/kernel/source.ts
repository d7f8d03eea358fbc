/**
 * A kernel step's `source`, resolved to a directory and an identity for the
 * cache key:
 *
 * - a Debian package name (`linux-source-6.1`): /usr/src/<name>.tar.xz (or
 *   .tar.bz2), identified by the package's version (`dpkg-query -W`);
 * - an absolute path to a source tarball: its sha256;
 * - an absolute path to a kernel tree: a git checkout by HEAD, the sha256 of
 *   `git diff HEAD` and its untracked files (names and contents); any other
 *   tree by its digest (cache/tree-digest, memoized).
 *
 * Tarballs are unpacked once into the cache (kernels/sources/), by root and
 * read-only for everyone else (the build user included), under a temporary
 * name renamed when complete.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { lstat, readFile, rename, rm } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import { EXIT, UserError } from '../errors.js';
import type { ExecOptions, ExecResult } from '../host/exec.js';
import { sha256File } from '../host/hashing.js';
import { acquireLock } from '../host/lock-file.js';
import { partialPath } from '../host/safe-write.js';
import { ensureCacheDir } from '../cache/records.js';
import { treeDigest } from '../cache/tree-digest.js';
import type { RunAs } from '../uml/guest.js';
import { builderArgv } from './builder.js';

export type Exec = (cmd: string, args: readonly string[], opts?: ExecOptions) => Promise<ExecResult>;

export const PACKAGE_NAME = /^linux-source-[\w.+~-]+$/;

export type SourceKind = 'package' | 'tarball' | 'tree';

export interface SourceRef {
  kind: SourceKind;
  /** The package name or the absolute path given. */
  given: string;
  /** The tarball to unpack (package, tarball). */
  tarball?: string;
}

/** What kind of source `source` names, without looking at it yet; a UserError when it is neither. */
/** The installed version of a Debian package ('' when it is not installed). */
export async function packageVersion(exec: Exec, pkg: string): Promise<string> {
  const r = await exec('dpkg-query', ['-W', '-f=${Version}', pkg], { reject: false });
  return r.exitCode === 0 ? r.stdout.trim() : '';
}

export function sourceRef(source: string): SourceRef {
  if (PACKAGE_NAME.test(source)) {
    const tarball = [`/usr/src/${source}.tar.xz`, `/usr/src/${source}.tar.bz2`].find((f) => existsSync(f)) ?? `/usr/src/${source}.tar.xz`;
    return { kind: 'package', given: source, tarball };
  }
  if (!isAbsolute(source)) throw new UserError(`kernel source ${source}: not a Debian package name (linux-source-X.Y) nor an absolute path to a kernel tree or tarball`, EXIT.invalid);
  if (/\.tar(\.(xz|bz2|gz|zst))?$|\.t[gbx]z$/.test(source)) return { kind: 'tarball', given: source, tarball: source };
  return { kind: 'tree', given: source };
}

/** A problem with the source as it is on this host (missing package or path), for verify(); undefined when usable. */
export async function sourceProblem(ref: SourceRef): Promise<string | undefined> {
  if (ref.kind === 'package') return existsSync(ref.tarball!) ? undefined : `${ref.given} is not installed (no ${ref.tarball}): apt-get install ${ref.given}`;
  const st = await lstat(ref.given).catch(() => undefined);
  if (!st) return `${ref.given} does not exist`;
  if (ref.kind === 'tarball') return st.isFile() ? undefined : `${ref.given} is not a regular file`;
  if (!st.isDirectory()) return `${ref.given} is not a directory (a kernel tree) nor a .tar.* file`;
  return existsSync(join(ref.given, 'Makefile')) && existsSync(join(ref.given, 'arch', 'um')) ? undefined : `${ref.given} is not a kernel source tree (no Makefile and arch/um)`;
}

export interface SourceIdentity {
  ref: SourceRef;
  /** What the cache key holds: `package linux-source-6.1 6.1.192-3`, `tarball <sha256>`, `git <head> <diff sha> <untracked sha>`, `tree <digest>`. */
  id: string;
}

export interface IdentityEnv {
  exec: Exec;
  /** The digests memo (cache/tree-digest). */
  memo?: string;
  /** The build user (root builds): git runs as it. */
  who?: RunAs;
  /** The ccache and a scratch build directory for git's namespace (unused by git, but mounted). */
  scratch?: { build: string; ccache: string };
}

const sha = (s: string | Buffer) => createHash('sha256').update(s).digest('hex');

export async function sourceIdentity(ref: SourceRef, env: IdentityEnv): Promise<SourceIdentity> {
  const problem = await sourceProblem(ref);
  if (problem) throw new UserError(`kernel source: ${problem}`, ref.kind === 'package' ? EXIT.hostMissing : EXIT.invalid);
  if (ref.kind === 'package') {
    const version = await packageVersion(env.exec, ref.given);
    if (!version) throw new UserError(`kernel source: ${ref.given} is not an installed package (dpkg-query -W ${ref.given}): apt-get install ${ref.given}`, EXIT.hostMissing);
    return { ref, id: `package ${ref.given} ${version}` };
  }
  if (ref.kind === 'tarball') return { ref, id: `tarball ${await sha256File(ref.given)}` };
  if (existsSync(join(ref.given, '.git'))) return { ref, id: await gitIdentity(ref.given, env) };
  return { ref, id: `tree ${await treeDigest(ref.given, { memo: env.memo })}` };
}

/** HEAD, the diff against it and the untracked files (their names and contents); git runs as the build user when root. */
async function gitIdentity(tree: string, env: IdentityEnv): Promise<string> {
  const git = async (args: string[]) => {
    const argv = await builderArgv({ src: tree, build: env.scratch?.build ?? tree, ccache: env.scratch?.ccache ?? tree }, env.who, (p) => [
      'git',
      '-c',
      'safe.directory=*',
      '-c',
      'core.fsmonitor=false',
      '--no-optional-locks',
      '-C',
      p.src,
      ...args,
    ]);
    return (await env.exec(argv[0]!, argv.slice(1), { onLine: () => undefined, keepFinalNewline: true })).stdout;
  };
  const head = (await git(['rev-parse', 'HEAD'])).trim();
  const diff = await git(['diff', 'HEAD', '--binary', '--no-ext-diff', '--no-textconv']);
  const untracked = (await git(['ls-files', '-z', '--others', '--exclude-standard'])).split('\0').filter(Boolean).sort();
  const h = createHash('sha256');
  for (const name of untracked) {
    const st = await lstat(join(tree, name)).catch(() => undefined);
    h.update(`${JSON.stringify(name)} ${st?.isFile() ? sha(await readFile(join(tree, name))) : st?.isSymbolicLink() ? 'link' : 'other'}\n`);
  }
  return `git ${head} ${sha(diff)} ${h.digest('hex')}`;
}

/**
 * The directory to build from: a tree as given; a tarball unpacked once into
 * `sourcesDir` (by this process, read-only for others: a build user cannot
 * change a source another build uses).
 */
export async function sourceDir(identity: SourceIdentity, sourcesDir: string, exec: Exec, signal?: AbortSignal): Promise<string> {
  if (identity.ref.kind === 'tree') return identity.ref.given;
  await ensureCacheDir(sourcesDir);
  const name = sha(identity.id).slice(0, 32);
  const dir = join(sourcesDir, name);
  const got = await acquireLock(join(sourcesDir, `${name}.lock`), { wait: true, signal });
  if (!('release' in got)) throw new Error('lock not taken');
  try {
    const st = await lstat(dir).catch(() => undefined);
    if (st?.isDirectory() && st.uid === (process.getuid?.() ?? st.uid) && existsSync(join(dir, 'Makefile'))) return dir;
    if (st) await rm(dir, { recursive: true, force: true });
    const partial = partialPath(dir);
    await rm(partial, { recursive: true, force: true });
    await ensureCacheDir(partial);
    try {
      // GNU tar into an empty directory stays inside it (host/stage-tree.ts); owners and modes are not taken from the tarball.
      await exec('tar', ['-x', '-f', identity.ref.tarball!, '-C', partial, '--strip-components=1', '--no-same-owner', '--no-same-permissions'], { signal, onLine: () => undefined });
      await exec('chmod', ['-R', 'u+rwX,go+rX,go-w', partial], { signal });
      if (!existsSync(join(partial, 'Makefile'))) throw new UserError(`kernel source ${identity.ref.given}: no Makefile at the top of the tarball (one directory holding a kernel tree expected)`, EXIT.invalid);
      await rename(partial, dir);
    } finally {
      await rm(partial, { recursive: true, force: true });
    }
    return dir;
  } finally {
    await got.release();
  }
}
