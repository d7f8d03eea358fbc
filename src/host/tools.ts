/** Finding host tools and the Debian packages that provide them. */
import { access, constants } from 'node:fs/promises';
import { join } from 'node:path';
import { cleanEnv } from './exec.js';

/** Debian package for each tool umlbuild may call. */
export const TOOL_PACKAGES: Record<string, string> = {
  debootstrap: 'debootstrap',
  mmdebstrap: 'mmdebstrap',
  newuidmap: 'uidmap',
  unshare: 'util-linux',
  'mkfs.ext2': 'e2fsprogs',
  'mkfs.ext3': 'e2fsprogs',
  'mkfs.ext4': 'e2fsprogs',
  e2fsck: 'e2fsprogs',
  'mkfs.btrfs': 'btrfs-progs',
  'mkfs.xfs': 'xfsprogs',
  losetup: 'mount',
  mount: 'mount',
  umount: 'mount',
  chroot: 'coreutils',
  cp: 'coreutils',
  tar: 'tar',
  zstd: 'zstd',
  mksquashfs: 'squashfs-tools',
  unsquashfs: 'squashfs-tools',
  depmod: 'kmod',
  'dpkg-query': 'dpkg',
  linux: 'user-mode-linux',
  uml_mconsole: 'uml-utilities',
  make: 'make',
  openssl: 'openssl',
  xz: 'xz-utils',
  debugfs: 'e2fsprogs',
  dumpe2fs: 'e2fsprogs',
  find: 'findutils',
  touch: 'coreutils',
};

export function packageFor(tool: string): string {
  return TOOL_PACKAGES[tool] ?? tool;
}

export async function findTool(name: string): Promise<string | undefined> {
  if (name.includes('/')) return (await isExecutable(name)) ? name : undefined;
  for (const dir of cleanEnv().PATH!.split(':')) {
    const p = join(dir, name);
    if (await isExecutable(p)) return p;
  }
  return undefined;
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
