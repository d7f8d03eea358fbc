/**
 * A UML kernel built from source (kernel/ builds it, cache/kernels keeps it)
 * as plain data: what a `kernel` step asks for and what a build gives back.
 * Model layer: imports nothing of ours.
 */

/** What to build: a source, a base config, fragments merged over it the way scripts/kconfig/merge_config.sh does. */
export interface KernelRequest {
  /** A Debian package name (`linux-source-6.1`: /usr/src/<name>.tar.xz, identified by the package's version) or an absolute path to a kernel tree or a source tarball. */
  source: string;
  /** `defconfig` or an absolute path to a full config file. */
  config: string;
  /** Absolute paths of config fragment files, merged in order after umlbuild's own base fragment. */
  fragments: readonly string[];
  /** Inline options merged last: CONFIG_NAME -> value as written in a .config (`y`, `m`, `n`, `"text"`, a number). */
  options: Readonly<Record<string, string>>;
  /** Apply umlbuild's base fragment (vector transports, hostfs, ubd, ...) before the recipe's; default true. */
  umlbuildBase?: boolean;
}

/** A fragment option that `make olddefconfig` did not keep as asked. */
export interface DroppedOption {
  option: string;
  wanted: string;
  /** What the final .config has (undefined: not set at all). */
  got?: string;
  /** The fragment file (or `options`) that asked for it. */
  from: string;
}

/** A built kernel: a cache entry's directory holding `linux`, `config`, `System.map` and, with modules, `modules.tar` (lib/modules/<release>/...). */
export interface BuiltKernel {
  /** The cache key (source identity, base config, fragments, options, toolchain). */
  key: string;
  /** The cache entry's directory. */
  dir: string;
  /** `make kernelrelease`: the version `uname -r` shows and /lib/modules/<release>. */
  release: string;
  /** sha256 of dir/linux and of dir/config. */
  sha256: string;
  configSha256: string;
  /** Whether dir/modules.tar exists (CONFIG_MODULES=y and modules were built). */
  modules: boolean;
}

export interface KernelBuildResult extends BuiltKernel {
  /** Taken from the cache (no compile). */
  cached: boolean;
  seconds: number;
  dropped: DroppedOption[];
}
