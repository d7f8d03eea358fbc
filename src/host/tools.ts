/**
 * Every host tool umlbuild runs, and the Debian package that provides it:
 * the one table behind `doctor`, the "missing host tool" errors and the
 * README's install line (test/unit/host-tools.test.ts keeps the three, and the
 * tools the code actually calls, in agreement).
 */
import { accessSync } from 'node:fs';
import { access, constants } from 'node:fs/promises';
import { join } from 'node:path';
import { HostError } from '../errors.js';
import { cleanEnv } from './exec.js';

export interface HostTool {
  package: string;
  /** Who runs it: doctor's note and error messages. */
  for: string;
  /** Set when no shipped recipe, nor `umlbuild test`/`boot`, needs it (only some step options do): the README lists it as optional. */
  optional?: true;
}

const tool = (pkg: string, why: string, optional?: true): HostTool => ({ package: pkg, for: why, ...(optional ? { optional } : {}) });

export const HOST_TOOLS: Readonly<Record<string, HostTool>> = {
  debootstrap: tool('debootstrap', 'the debootstrap step'),
  mmdebstrap: tool('mmdebstrap', 'backend: mmdebstrap (bookworm-rootless)'),
  newuidmap: tool('uidmap', 'rootless builds (user namespaces)'),
  newgidmap: tool('uidmap', 'rootless builds (user namespaces)'),
  unshare: tool('util-linux', 'rootless builds (user namespaces)'),
  setpriv: tool('util-linux', 'running UML as an unprivileged user'),
  taskset: tool('util-linux', 'the launch script (UML_CPUS)'),
  blkid: tool('util-linux', 'mkfs, pack'),
  findmnt: tool('util-linux', 'teardown'),
  mountpoint: tool('util-linux', 'teardown'),
  'mkfs.ext2': tool('e2fsprogs', 'mkfs, pack'),
  'mkfs.ext3': tool('e2fsprogs', 'mkfs, pack'),
  'mkfs.ext4': tool('e2fsprogs', 'mkfs, pack'),
  e2fsck: tool('e2fsprogs', 'unmount, pack, warm builds'),
  tune2fs: tool('e2fsprogs', 'mkfs, pack (discard)'),
  dumpe2fs: tool('e2fsprogs', 'pack (reproducible)'),
  debugfs: tool('e2fsprogs', 'warm builds, reproducible images, cow checks'),
  filefrag: tool('e2fsprogs', 'the manifest (allocated size)'),
  losetup: tool('mount', 'mount, cleanup'),
  mount: tool('mount', 'mount, run (chroot)'),
  umount: tool('mount', 'unmount, teardown'),
  chroot: tool('coreutils', 'password, run'),
  cp: tool('coreutils', 'copies of trees and images'),
  mknod: tool('coreutils', 'overlay with allow: [devices]'),
  rm: tool('coreutils', 'teardown'),
  chown: tool('coreutils', 'rootfs-dir, --owner'),
  touch: tool('coreutils', 'reproducible images'),
  test: tool('coreutils', 'umlbuild boot (access of the guest user)'),
  id: tool('coreutils', 'the launch script'),
  mkdir: tool('coreutils', 'the busybox recipe'),
  ln: tool('coreutils', 'the busybox recipe'),
  dirname: tool('coreutils', 'the launch script'),
  basename: tool('coreutils', 'the launch script'),
  sh: tool('dash', 'run, umlbuild boot, the launch script'),
  grep: tool('grep', 'the launch script'),
  find: tool('findutils', 'reproducible images'),
  tar: tool('tar', 'the bootstrap cache, rootfs-tarball, pack'),
  zstd: tool('zstd', 'the bootstrap cache'),
  depmod: tool('kmod', 'the modules step'),
  dpkg: tool('dpkg', 'debootstrap (architecture)'),
  'dpkg-query': tool('dpkg', 'the manifest (package list)'),
  linux: tool('user-mode-linux', 'umlbuild test, umlbuild boot, the launch script'),
  uml_mconsole: tool('uml-utilities', 'umlbuild test (halt)'),
  uml_moo: tool('uml-utilities', 'umlbuild merge'),
  openssl: tool('openssl', 'the password step'),
  ip: tool('iproute2', 'umlbuild test as root (network namespaces), cleanup'),
  getent: tool('libc-bin', 'umlbuild test/boot as root (the guest user)'),
  ldd: tool('libc-bin', 'the busybox recipe'),
  useradd: tool('passwd', 'umlbuild test/boot as root (creates the guest user)'),
  busybox: tool('busybox-static', 'the busybox recipe'),
  xz: tool('xz-utils', 'rootfs-tarball .tar.xz, --compress xz', true),
  make: tool('make', 'the kernel step, umlbuild kernel, modules with kernel_tree', true),
  gcc: tool('gcc', 'the kernel step, umlbuild kernel (compiling the kernel)', true),
  flex: tool('flex', 'the kernel step, umlbuild kernel (kconfig)', true),
  bison: tool('bison', 'the kernel step, umlbuild kernel (kconfig)', true),
  bc: tool('bc', 'the kernel step, umlbuild kernel (kernel/time constants)', true),
  ccache: tool('ccache', 'faster kernel rebuilds (used when installed)', true),
  git: tool('git', 'the kernel step from a git checkout (its identity: HEAD and the diff)', true),
  chmod: tool('coreutils', 'the kernel step (unpacked kernel sources made read-only to others)'),
  'mkfs.btrfs': tool('btrfs-progs', 'mkfs fs: btrfs', true),
  'mkfs.xfs': tool('xfsprogs', 'mkfs fs: xfs', true),
  mksquashfs: tool('squashfs-tools', 'pack fs: squashfs', true),
  getcap: tool('libcap2-bin', 'the launch script (checks capabilities when present)', true),
  eatmydata: tool('eatmydata', 'faster warm builds (debugfs and e2fsck on a fresh image copy without fsync)', true),
  bmaptool: tool('bmap-tools', 'checking an image against its block map (bmaptool copy IMAGE /dev/null)', true),
  'apt-cacher-ng': tool('apt-cacher-ng', 'a local package cache for apt_proxy (the proxy end-to-end test starts one)', true),
};

/** Packages that hold files, not tools, the shipped recipes need. */
export const HOST_FILES: Readonly<Record<string, HostTool>> = {
  '/usr/share/keyrings/debian-archive-removed-keys.gpg': tool('debian-archive-keyring', 'archived suites (buster): their release keys'),
};

/** Debian package for each tool umlbuild may call. */
export const TOOL_PACKAGES: Readonly<Record<string, string>> = Object.fromEntries(Object.entries(HOST_TOOLS).map(([t, h]) => [t, h.package]));

/** The packages the README's install line must name (sorted): every tool's and file's that is not optional. */
export function requiredPackages(): string[] {
  return [...new Set([...Object.values(HOST_TOOLS), ...Object.values(HOST_FILES)].filter((h) => !h.optional).map((h) => h.package))].sort();
}

export function optionalPackages(): string[] {
  const required = new Set(requiredPackages());
  return [
    ...new Set(
      Object.values(HOST_TOOLS)
        .filter((h) => h.optional && !required.has(h.package))
        .map((h) => h.package),
    ),
  ].sort();
}

export function packageFor(tool: string): string {
  return HOST_TOOLS[tool]?.package ?? tool;
}

/** Fail with exit 3 naming each missing tool and its package, before a command starts anything. */
export async function requireTools(tools: readonly string[], what: string): Promise<void> {
  const missing: string[] = [];
  for (const t of tools) if (!(await findTool(t))) missing.push(t);
  if (missing.length) throw new HostError(missing.map((t) => `missing host tool ${t} (package ${packageFor(t)}), needed by ${what}`).join('\n'), [...new Set(missing.map(packageFor))]);
}

/** Where a tool may be: the path itself when it has a slash, else each directory of the clean PATH. */
function candidates(name: string): string[] {
  return name.includes('/')
    ? [name]
    : cleanEnv()
        .PATH!.split(':')
        .map((dir) => join(dir, name));
}

export async function findTool(name: string): Promise<string | undefined> {
  for (const p of candidates(name)) if (await isExecutable(p)) return p;
  return undefined;
}

/** findTool without waiting: for choices made while a plan is read (a step's title). */
export function findToolSync(name: string): string | undefined {
  return candidates(name).find((p) => {
    try {
      accessSync(p, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

async function isExecutable(p: string): Promise<boolean> {
  try {
    await access(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}
