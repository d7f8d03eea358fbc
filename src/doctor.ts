/** `umlbuild doctor`: what this host has and lacks for building and booting. */
import { existsSync } from 'node:fs';
import { findTool, isRoot, packageFor } from './host/tools.js';
import { pickVersion, UML_MODULES } from './steps/modules.js';
import { detectMirror } from './host/mirror.js';

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
  lines.push(`${root ? 'ok     ' : 'MISSING'} root privileges${root ? '' : ' (loop devices, mounts and chroot need root)'}`);
  const loop = existsSync('/dev/loop-control');
  lines.push(`${loop ? 'ok     ' : 'MISSING'} loop devices (/dev/loop-control)`);
  const modules = await pickVersion(UML_MODULES, 'auto');
  lines.push(`${modules ? 'ok     ' : 'MISSING'} UML kernel modules${modules ? ` ${modules} in ${UML_MODULES}` : ' (package user-mode-linux)'}`);
  if (!modules) missing.push('user-mode-linux');
  const mirror = await detectMirror();
  lines.push(`${mirror ? 'ok     ' : 'note   '} mirror from host apt sources: ${mirror ?? 'none found (recipes must set mirror)'}`);
  const unique = [...new Set(missing)];
  if (unique.length) lines.push('', `install: apt-get install ${unique.join(' ')}`);
  return { lines, missingPackages: unique, ok: unique.length === 0 && root && loop };
}
