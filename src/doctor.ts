/** `umlbuild doctor`: what this host has and lacks for building and booting. */
import { existsSync } from 'node:fs';
import { findTool, HOST_FILES, HOST_TOOLS, isRoot } from './host/tools.js';
import { rootlessSupport } from './host/userns.js';
import { pickVersion, UML_MODULES } from './steps/modules.js';
import { detectMirror } from './host/mirror.js';
import { archiveDefaults } from './host/archive.js';
import { GUEST_USER, lookupUser } from './uml/guest.js';
import { DEFAULT_KERNEL_SOURCE, KERNEL_BUILD_TOOLS } from './steps/kernel.js';
import { exec } from './host/exec.js';
import { packageVersion } from './kernel/source.js';

export interface DoctorReport {
  lines: string[];
  missingPackages: string[];
  ok: boolean;
}

/** Every tool of HOST_TOOLS, one line per package: ok, MISSING (needed) or note (optional). */
async function toolLines(lines: string[], missing: string[]): Promise<void> {
  const byPackage = new Map<string, { tools: string[]; absent: string[]; optional: boolean; for: Set<string> }>();
  for (const [tool, h] of Object.entries(HOST_TOOLS)) {
    const e = byPackage.get(h.package) ?? { tools: [], absent: [], optional: true, for: new Set<string>() };
    e.tools.push(tool);
    if (!h.optional) e.optional = false;
    if (!(await findTool(tool))) {
      e.absent.push(tool);
      e.for.add(h.for);
    }
    byPackage.set(h.package, e);
  }
  for (const [pkg, e] of byPackage) {
    if (!e.absent.length) lines.push(`ok      ${pkg}: ${e.tools.join(' ')}`);
    else {
      lines.push(`${e.optional ? 'note   ' : 'MISSING'} ${pkg}: ${e.absent.join(' ')} missing (${[...e.for].join('; ')}${e.optional ? '; optional' : ''})`);
      if (!e.optional) missing.push(pkg);
    }
  }
  for (const [file, h] of Object.entries(HOST_FILES)) {
    const there = existsSync(file);
    lines.push(`${there ? 'ok     ' : 'MISSING'} ${h.package}: ${file}${there ? '' : ` missing (${h.for})`}`);
    if (!there) missing.push(h.package);
  }
}

/**
 * Kernel builds (the kernel step, `umlbuild kernel`): the tools, the C
 * library's headers (UML links against it), the default source package, and
 * the optional libelf headers and ccache. Optional as a whole: not counted as
 * missing, the line says what to install.
 */
export interface KernelBuildProbe {
  has(tool: string): Promise<boolean>;
  exists(file: string): boolean;
  /** The installed version of a package ('' when none). */
  version(pkg: string): Promise<string>;
}

const hostProbe: KernelBuildProbe = {
  has: async (t) => Boolean(await findTool(t)),
  exists: existsSync,
  version: (pkg) => packageVersion(exec, pkg),
};

export async function kernelBuildLines(lines: string[], probe: KernelBuildProbe = hostProbe): Promise<void> {
  const tools = [...new Set<string>(KERNEL_BUILD_TOOLS)];
  const absent: string[] = [];
  for (const t of tools) if (!(await probe.has(t))) absent.push(t);
  const packages = new Set(absent.map((t) => HOST_TOOLS[t]?.package ?? t));
  const headers = probe.exists('/usr/include/stdio.h');
  if (!headers) packages.add('libc6-dev');
  const tarball = `/usr/src/${DEFAULT_KERNEL_SOURCE}.tar.xz`;
  const version = probe.exists(tarball) ? await probe.version(DEFAULT_KERNEL_SOURCE) : '';
  const what = `compiler and tools ${tools.join(' ')}, C library headers, source ${DEFAULT_KERNEL_SOURCE}`;
  if (!packages.size && version) lines.push(`ok      kernel builds (the kernel step, umlbuild kernel): ${what} ${version}`);
  else {
    const missing = [...absent, ...(headers ? [] : ['/usr/include/stdio.h']), ...(version ? [] : [tarball])];
    if (!version) packages.add(DEFAULT_KERNEL_SOURCE);
    lines.push(`note    kernel builds (the kernel step, umlbuild kernel): ${missing.join(' ')} missing; optional: apt-get install ${[...packages].join(' ')}`);
  }
  const elf = probe.exists('/usr/include/gelf.h');
  lines.push(`${elf ? 'ok     ' : 'note   '} kernel builds: libelf-dev ${elf ? '(gelf.h)' : "missing (only for configs that build objtool or BTF; umlbuild's base config does not)"}`);
  const cc = await probe.has('ccache');
  lines.push(`${cc ? 'ok     ' : 'note   '} kernel builds: ccache ${cc ? '(rebuilds reuse compiled objects)' : 'missing (optional: faster rebuilds)'}`);
}

export async function doctor(): Promise<DoctorReport> {
  const lines: string[] = [];
  const missing: string[] = [];
  const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
  const nodeOk = major > 20 || (major === 20 && minor >= 19);
  lines.push(`${nodeOk ? 'ok     ' : 'MISSING'} node ${process.versions.node} (umlbuild needs 20.19 or later)`);
  await toolLines(lines, missing);
  const root = isRoot();
  const loop = existsSync('/dev/loop-control');
  const mm = await findTool('mmdebstrap');
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
  await kernelBuildLines(lines);
  const mirror = await detectMirror();
  lines.push(`${mirror ? 'ok     ' : 'note   '} mirror from host apt sources: ${mirror ?? 'none found (recipes must set mirror)'}`);
  const archive = await archiveDefaults();
  lines.push(`${archive.mirror ? 'ok     ' : 'note   '} archived suites (buster): mirror ${archive.mirror ? `${archive.mirror.value} (${archive.mirror.from})` : `none found (${archive.problem}; set mirror)`}`);
  const unique = [...new Set(missing)];
  if (unique.length) lines.push('', `install: apt-get install ${unique.join(' ')}`);
  return { lines, missingPackages: unique, ok: nodeOk && unique.length === 0 && ((root && loop) || rootless) };
}
