/** `umlbuild doctor`: what this host has and lacks for building and booting. */
import { existsSync } from 'node:fs';
import { findTool, isRoot, packageFor } from './host/tools.js';
import { rootlessSupport } from './host/userns.js';
import { pickVersion, UML_MODULES } from './steps/modules.js';
import { detectMirror } from './host/mirror.js';
import { GUEST_USER, lookupUser } from './uml/guest.js';

export interface DoctorReport {
  lines: string[];
  missingPackages: string[];
  ok: boolean;
}

const NEEDED = ['debootstrap', 'mkfs.ext4', 'e2fsck', 'losetup', 'mount', 'chroot', 'tar', 'zstd', 'depmod', 'dpkg-query', 'linux', 'uml_mconsole'];

export async function doctor(): Promise<DoctorReport> {
  const lines: string[] = [];
  const missing: string[] = [];
  for (const tool of NEEDED) {
    const path = await findTool(tool);
    lines.push(`${path ? 'ok     ' : 'MISSING'} ${tool}${path ? ` (${path})` : ` (package ${packageFor(tool)})`}`);
    if (!path) missing.push(packageFor(tool));
  }
  const root = isRoot();
  const loop = existsSync('/dev/loop-control');
  const mm = await findTool('mmdebstrap');
  lines.push(`${mm ? 'ok     ' : 'note   '} mmdebstrap${mm ? ` (${mm})` : ' (package mmdebstrap; needed for backend: mmdebstrap and rootless builds)'}`);
  let rootless = false;
  if (root) {
    lines.push('ok      root privileges');
    lines.push(`${loop ? 'ok     ' : 'MISSING'} loop devices (/dev/loop-control)`);
    const guest = await lookupUser(GUEST_USER);
    lines.push(guest ? `ok      UML guests run as ${GUEST_USER} (uid ${guest.uid}, gid ${guest.gid})` : `note    UML guests will run as the system user ${GUEST_USER} (created on first boot)`);
  } else {
    const support = await rootlessSupport();
    rootless = support.ok && Boolean(mm);
    lines.push('note    not root: recipes that mount an image (sparse-disk, mount) need root');
    lines.push(`${rootless ? 'ok     ' : 'MISSING'} rootless builds (directory-first recipe, backend: mmdebstrap, in a user namespace): ${support.ok ? (mm ? support.detail : 'install mmdebstrap') : support.detail}`);
  }
  const modules = await pickVersion(UML_MODULES, 'auto');
  lines.push(`${modules ? 'ok     ' : 'MISSING'} UML kernel modules${modules ? ` ${modules} in ${UML_MODULES}` : ' (package user-mode-linux)'}`);
  if (!modules) missing.push('user-mode-linux');
  const mirror = await detectMirror();
  lines.push(`${mirror ? 'ok     ' : 'note   '} mirror from host apt sources: ${mirror ?? 'none found (recipes must set mirror)'}`);
  const unique = [...new Set(missing)];
  if (unique.length) lines.push('', `install: apt-get install ${unique.join(' ')}`);
  return { lines, missingPackages: unique, ok: unique.length === 0 && ((root && loop) || rootless) };
}
