/**
 * Build a UML kernel (ARCH=um) from a KernelRequest, or take it from the
 * cache. The entry's key is made of the source's identity (kernel/source), the
 * base config (`defconfig` or the file's sha256), the fragments' contents, the
 * inline options, umlbuild's base fragment and the toolchain (gcc and make
 * versions, memoized). A miss builds out of tree (`make O=`) in a build
 * directory kept per source location and config inputs, so an edited tree
 * rebuilds incrementally (the edit-rebuild-boot loop): base config, fragments
 * merged (kernel/config), `make olddefconfig`, the options that did not
 * survive reported, `make -j<cores>` (through ccache when installed, its
 * directory inside the cache), `modules_install` + depmod into a staging
 * directory packed as modules.tar (without the build/source links).
 *
 * Layout under <cache>/kernels/: `<key>/` (linux, config, System.map,
 * modules.tar) with `<key>.json` (its record: sha256 of linux and config),
 * `<key>.lock` while it is filled, `build/<id>/` build directories,
 * `sources/` unpacked tarballs, `ccache/`. An entry is written under a
 * temporary name and renamed when complete; one whose files are not the
 * regular files its record names (a link, another content) is removed and
 * rebuilt, never used. Results are copied out of the build directory (owned by
 * the build user when root: kernel/builder) without following a link.
 */
import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { chown, lstat, mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EXIT, UserError } from '../errors.js';
import { sha256File } from '../host/hashing.js';
import { acquireLock } from '../host/lock-file.js';
import { openRegularFile } from '../host/pinned-file.js';
import { partialPath, writeReplacing } from '../host/safe-write.js';
import { findTool } from '../host/tools.js';
import { cacheKey } from '../cache/store.js';
import { anyLiveLock, ensureCacheDir, pruneCacheDir, readRecord, readRecords, writeRecord } from '../cache/records.js';
import { toolVersion } from '../cache/tool-version.js';
import type { DroppedOption, KernelBuildResult, KernelRequest } from '../model/kernel.js';
import type { RunAs } from '../uml/guest.js';
import { builderArgv, buildUser, checkRelease, modulesWritten, type Workspace } from './builder.js';
import { droppedOptions, type FragmentSource, mergeConfigs, optionsConfig, parseConfig, renderConfig } from './config.js';
import { type Exec, sourceDir, sourceIdentity, sourceRef } from './source.js';

/** umlbuild's base fragment (shipped as kernel/umlbuild.config: each line says why). */
export const BASE_FRAGMENT_FILE = fileURLToPath(new URL('../../kernel/umlbuild.config', import.meta.url));
/** How fragments and options are named in reports. */
export const BASE_FRAGMENT_NAME = 'umlbuild.config';

export interface KernelEnv {
  /** umlbuild's cache directory (--cache-dir); kernels go to <cacheRoot>/kernels. */
  cacheRoot: string;
  exec: Exec;
  log?: (line: string) => void;
  signal?: AbortSignal;
  /** Build even when the cache has the entry (--refresh). */
  refresh?: boolean;
  /** make -j (default: os.availableParallelism()). */
  jobs?: number;
}

export interface KernelRecord {
  key: string;
  fields: Record<string, unknown>;
  release: string;
  sha256: string;
  configSha256: string;
  modules: boolean;
  /** Bytes of the entry's files. */
  bytes: number;
  created: string;
  /** How long the build took. */
  seconds: number;
  dropped: DroppedOption[];
}

export const kernelsDir = (cacheRoot: string) => join(cacheRoot, 'kernels');

const sha = (s: string | Buffer) => createHash('sha256').update(s).digest('hex');

/** Read a fragment or config file given by the user: a regular file, no link followed, no FIFO opened. */
export async function readInputFile(path: string, what: string): Promise<string> {
  const f = await openRegularFile(path, what);
  try {
    return await f.fh.readFile('utf8');
  } finally {
    await f.close();
  }
}

/** The fragments in merge order (umlbuild's base, the request's files, its options), parsed; a bad line is a UserError naming file:line. */
export async function requestFragments(req: KernelRequest): Promise<{ fragments: FragmentSource[]; texts: string[] }> {
  const fragments: FragmentSource[] = [];
  const texts: string[] = [];
  const add = (from: string, text: string) => {
    const { config, errors } = parseConfig(text);
    if (errors.length) throw new UserError(errors.map((e) => `${from}:${e.line}: ${e.message}: ${e.text.trim()}`).join('\n'), EXIT.invalid);
    fragments.push({ from, config });
    texts.push(text);
  };
  if (req.umlbuildBase !== false) add(BASE_FRAGMENT_NAME, await readFile(BASE_FRAGMENT_FILE, 'utf8'));
  for (const f of req.fragments) add(f, await readInputFile(f, 'config fragment'));
  const opts = optionsConfig(req.options);
  if (opts.errors.length) throw new UserError(opts.errors.map((e) => `options: ${e}`).join('\n'), EXIT.invalid);
  if (opts.config.size) {
    fragments.push({ from: 'options', config: opts.config });
    texts.push(renderConfig(opts.config));
  }
  return { fragments, texts };
}

/** The toolchain's versions (gcc's and make's first lines), memoized by the tools' files. */
export async function toolchain(exec: Exec, memo?: string): Promise<{ gcc: string; make: string }> {
  const first = async (tool: string) => ((await findTool(tool)) ? (await toolVersion(tool, exec, memo)).split('\n')[0]! : 'missing');
  return { gcc: await first('gcc'), make: await first('make') };
}

export interface KeyInputs {
  /** Everything the cache key is made of. */
  fields: Record<string, unknown>;
  key: string;
  /**
   * What picks the build directory: the source's location and the base config (not the source's identity, nor
   * fragments and options: an edited tree or a changed option rebuilds incrementally in the same directory).
   */
  buildId: string;
}

/** The key of `req` (without building): source identity, base config, fragments, options, umlbuild's fragment, toolchain. */
export async function kernelKey(req: KernelRequest, env: Pick<KernelEnv, 'cacheRoot' | 'exec'>, who?: RunAs): Promise<KeyInputs & { identity: Awaited<ReturnType<typeof sourceIdentity>> }> {
  const memo = join(env.cacheRoot, 'digests');
  const ref = sourceRef(req.source);
  const scratch = who ? await scratchDirs(env.cacheRoot, who) : undefined;
  const identity = await sourceIdentity(ref, { exec: env.exec, memo, who, scratch });
  const { texts } = await requestFragments(req);
  const base = req.config === 'defconfig' ? 'defconfig' : `file ${sha(await readInputFile(req.config, 'kernel config'))}`;
  const configInputs = { arch: 'um', base, fragments: texts.map((t) => sha(t)), umlbuildBase: req.umlbuildBase !== false };
  const fields = { v: 1, source: identity.id, ...configInputs, toolchain: await toolchain(env.exec, memo) };
  return { identity, fields, key: cacheKey(fields), buildId: cacheKey({ source: ref.kind === 'tree' ? `tree ${ref.given}` : identity.id, arch: 'um', base }) };
}

/** The build user's scratch directories for commands that need no build directory (git). */
async function scratchDirs(cacheRoot: string, who: RunAs): Promise<{ build: string; ccache: string }> {
  const ccache = await ownedDir(join(kernelsDir(cacheRoot), 'ccache'), who);
  return { build: ccache, ccache };
}

/** A directory in the cache owned by `who` (the build user), created by us; a link there is refused. */
async function ownedDir(dir: string, who: RunAs | undefined): Promise<string> {
  await mkdir(dir, { recursive: true, mode: 0o755 });
  const st = await lstat(dir);
  if (!st.isDirectory()) throw new UserError(`${dir} is ${st.isSymbolicLink() ? 'a symbolic link' : 'not a directory'}: remove it (umlbuild's kernel cache)`);
  if (who && st.uid !== who.uid) await chown(dir, who.uid, who.gid);
  return dir;
}

export class KernelCache {
  readonly dir: string;
  constructor(cacheRoot: string) {
    this.dir = kernelsDir(cacheRoot);
  }
  entry(key: string): string {
    return join(this.dir, key);
  }
  private record(key: string): string {
    return join(this.dir, `${key}.json`);
  }

  /** A complete entry whose files are the regular files its record names, or undefined (anything else is removed). */
  async lookup(key: string): Promise<KernelRecord | undefined> {
    const rec = await readRecord<KernelRecord>(this.record(key));
    if (!rec) {
      if (await lstat(this.entry(key)).catch(() => undefined)) await this.remove(key);
      return undefined;
    }
    const ok = await (async () => {
      const top = await lstat(this.entry(key)).catch(() => undefined);
      if (!top?.isDirectory() || rec.key !== key) return false;
      for (const [name, want] of [
        ['linux', rec.sha256],
        ['config', rec.configSha256],
      ] as const) {
        const st = await lstat(join(this.entry(key), name)).catch(() => undefined);
        if (!st?.isFile() || (await sha256File(join(this.entry(key), name)).catch(() => undefined)) !== want) return false;
      }
      for (const name of ['System.map', ...(rec.modules ? ['modules.tar'] : [])]) if (!(await lstat(join(this.entry(key), name)).catch(() => undefined))?.isFile()) return false;
      return true;
    })();
    if (!ok) {
      await this.remove(key);
      return undefined;
    }
    return rec;
  }

  async remove(key: string): Promise<void> {
    await rm(this.record(key), { force: true });
    await rm(this.entry(key), { recursive: true, force: true });
  }

  list(): Promise<KernelRecord[]> {
    return readRecords<KernelRecord>(this.dir);
  }

  /** Remove every entry, build directory, unpacked source and ccache, but what a running build holds (then the shared directories stay). */
  async prune(warn: (line: string) => void = () => undefined): Promise<number> {
    const shared = ['build', 'sources', 'ccache'];
    let busy = false;
    for (const d of ['', 'build', 'sources']) busy ||= await anyLiveLock(join(this.dir, d));
    if (busy) warn(`${join(this.dir, '{build,sources,ccache}')}: a running umlbuild is building a kernel: left alone`);
    return pruneCacheDir(this.dir, warn, (name) => busy && shared.includes(name));
  }

  async lock(key: string, signal?: AbortSignal): Promise<() => Promise<void>> {
    await ensureCacheDir(this.dir);
    const got = await acquireLock(join(this.dir, `${key}.lock`), { wait: true, signal });
    if (!('release' in got)) throw new Error('lock not taken');
    return got.release;
  }
}

function result(rec: KernelRecord, dir: string, cached: boolean, seconds: number): KernelBuildResult {
  return { key: rec.key, dir, release: rec.release, sha256: rec.sha256, configSha256: rec.configSha256, modules: rec.modules, cached, seconds, dropped: rec.dropped };
}

/** Build the kernel `req` asks for, or take it from the cache (see above). */
export async function buildKernel(req: KernelRequest, env: KernelEnv): Promise<KernelBuildResult> {
  const t0 = performance.now();
  const log = env.log ?? (() => undefined);
  const who = await buildUser();
  const keyed = await kernelKey(req, env, who);
  const cache = new KernelCache(env.cacheRoot);
  const secs = () => Math.round((performance.now() - t0) / 10) / 100;
  const hit = env.refresh ? undefined : await cache.lookup(keyed.key);
  if (hit) return result(hit, cache.entry(keyed.key), true, secs());
  const release = await cache.lock(keyed.key, env.signal);
  try {
    const again = env.refresh ? undefined : await cache.lookup(keyed.key);
    if (again) return result(again, cache.entry(keyed.key), true, secs());
    const rec = await compile(req, env, keyed, who, log);
    rec.seconds = secs();
    await writeRecord(join(cache.dir, `${keyed.key}.json`), rec);
    return result(rec, cache.entry(keyed.key), false, rec.seconds);
  } finally {
    await release();
  }
}

/** The miss: build into the build directory, copy the results into a partial entry, rename it. */
async function compile(req: KernelRequest, env: KernelEnv, keyed: Awaited<ReturnType<typeof kernelKey>>, who: RunAs | undefined, log: (l: string) => void): Promise<KernelRecord> {
  const kdir = kernelsDir(env.cacheRoot);
  const src = await sourceDir(keyed.identity, join(kdir, 'sources'), env.exec, env.signal);
  await ensureCacheDir(join(kdir, 'build'));
  // One build at a time in a build directory (another key may share it).
  const got = await acquireLock(join(kdir, 'build', `${keyed.buildId}.lock`), { wait: true, signal: env.signal });
  if (!('release' in got)) throw new Error('lock not taken');
  try {
    return await compileIn(req, env, keyed, who, log, src);
  } finally {
    await got.release();
  }
}

async function compileIn(req: KernelRequest, env: KernelEnv, keyed: Awaited<ReturnType<typeof kernelKey>>, who: RunAs | undefined, log: (l: string) => void, src: string): Promise<KernelRecord> {
  const kdir = kernelsDir(env.cacheRoot);
  const ws: Workspace = { src, build: await ownedDir(join(kdir, 'build', keyed.buildId), who), ccache: await ownedDir(join(kdir, 'ccache'), who) };
  const ccache = await findTool('ccache');
  const jobs = env.jobs ?? availableParallelism();
  const make = async (args: string[], quiet = false) => {
    const argv = await builderArgv(ws, who, (p) => ['make', '-C', p.src, `O=${p.build}`, 'ARCH=um', ...(ccache ? ['CC=ccache gcc', 'HOSTCC=ccache gcc'] : []), ...args]);
    const envVars: Record<string, string> = { HOME: who ? '/nonexistent' : (process.env.HOME ?? '/'), ...(ccache ? { CCACHE_DIR: who ? '/run/umlbuild-kernel/ccache' : ws.ccache } : {}) };
    return env.exec(argv[0]!, argv.slice(1), { signal: env.signal, env: envVars, ...(quiet ? { onLine: () => undefined } : {}) });
  };
  // The base config.
  const dotConfig = join(ws.build, '.config');
  if (req.config === 'defconfig') await make(['defconfig']);
  else {
    await writeReplacing(dotConfig, await readInputFile(req.config, 'kernel config'));
    if (who) await chown(dotConfig, who.uid, who.gid);
  }
  const base = parseConfig(await readInputFile(dotConfig, 'the build directory .config')).config;
  const { fragments } = await requestFragments(req);
  const merged = mergeConfigs(base, fragments);
  for (const o of merged.overrides) log(`${o.option}: ${o.previous} replaced by ${o.value} (from ${o.from})`);
  await writeReplacing(dotConfig, renderConfig(merged.config));
  if (who) await chown(dotConfig, who.uid, who.gid);
  await make(['olddefconfig']);
  const final = parseConfig(await readInputFile(dotConfig, 'the build directory .config')).config;
  const dropped = droppedOptions(merged, final);
  await make([`-j${jobs}`]);
  const kernelRelease = checkRelease((await make(['-s', 'kernelrelease'], true)).stdout, '');
  const modules = final.get('CONFIG_MODULES') === 'y';
  // The entry, under a temporary name.
  const entry = join(kdir, keyed.key);
  const partial = partialPath(entry);
  await rm(partial, { recursive: true, force: true });
  await mkdir(partial, { mode: 0o755 });
  try {
    await copyOut(join(ws.build, 'linux'), join(partial, 'linux'), 0o755);
    await copyOut(dotConfig, join(partial, 'config'), 0o644);
    await copyOut(join(ws.build, 'System.map'), join(partial, 'System.map'), 0o644);
    if (modules) {
      const staging = join(ws.build, '.umlbuild-modules');
      await rm(staging, { recursive: true, force: true });
      await make(['-s', `INSTALL_MOD_PATH=${who ? '/run/umlbuild-kernel/build/.umlbuild-modules' : staging}`, 'modules_install'], true);
      // Every build process is gone (its pid namespace with it).
      await modulesWritten(staging, kernelRelease);
      // tar stores what it finds (links as links, never followed), owned by root.
      await env.exec('tar', ['-c', '-f', join(partial, 'modules.tar'), '-C', staging, '--owner=0', '--group=0', '--numeric-owner', '--sort=name', `lib/modules/${kernelRelease}`], { signal: env.signal });
      await rm(staging, { recursive: true, force: true });
    }
    let bytes = 0;
    for (const f of await readdir(partial)) bytes += (await stat(join(partial, f))).size;
    const rec: KernelRecord = {
      key: keyed.key,
      fields: keyed.fields,
      release: kernelRelease,
      sha256: await sha256File(join(partial, 'linux')),
      configSha256: await sha256File(join(partial, 'config')),
      modules,
      bytes,
      created: new Date().toISOString(),
      seconds: 0,
      dropped,
    };
    await rm(entry, { recursive: true, force: true });
    await rename(partial, entry);
    return rec;
  } finally {
    await rm(partial, { recursive: true, force: true });
  }
}

/** Copy a regular file out of the build directory: no link followed, no FIFO opened. */
async function copyOut(from: string, to: string, mode: number): Promise<void> {
  const src = await openRegularFile(from, 'build output');
  try {
    const dst = await open(to, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, mode);
    try {
      const buf = Buffer.alloc(1 << 20);
      let pos = 0;
      for (;;) {
        const { bytesRead } = await src.fh.read(buf, 0, buf.length, pos);
        if (!bytesRead) break;
        await dst.write(buf, 0, bytesRead);
        pos += bytesRead;
      }
      await dst.chmod(mode);
    } finally {
      await dst.close();
    }
  } finally {
    await src.close();
  }
}
