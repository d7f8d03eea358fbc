/**
 * Three lists that must agree: the host tools the code runs (found by
 * scanning src/), the table doctor and the error messages use
 * (src/host/tools.ts), and the packages README.md's install line names (which
 * .ci/run installs). A tool called but not in the table, a package the table
 * needs but the README does not install, or a stale entry fails here.
 */
import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { exec } from '../../src/host/exec.js';
import { findTool, HOST_FILES, HOST_TOOLS, optionalPackages, requiredPackages, requireTools } from '../../src/host/tools.js';
import { HostError } from '../../src/errors.js';
import { PROJECT } from '../helpers.js';
import { doctor, kernelBuildLines } from '../../src/doctor.js';

async function sources(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await sources(p)));
    else if (e.name.endsWith('.ts')) out.push(p);
  }
  return out.sort();
}

/**
 * Calls whose command is not a literal, by file and first argument, with the
 * tools each can run. A new such call must be added here (and its tools to
 * the table); user commands (run, hook) run what the recipe says.
 */
const DYNAMIC: Record<string, string[]> = {
  'src/runner/context.ts exec(cmd': [], // ctx.exec itself: its callers are scanned
  'src/cache/tool-version.ts exec(tool': ['debootstrap', 'mmdebstrap', 'gcc', 'make'], // the bootstrap tool's (the kernel's toolchain's) --version, for cache keys
  'src/cache/tool-version.ts findTool(tool': ['debootstrap', 'mmdebstrap', 'gcc', 'make'],
  'src/kernel/build.ts findTool(tool': ['gcc', 'make'], // the toolchain's versions
  'src/steps/modules.ts exec(cmd!': ['unshare', 'make'], // kernel_tree: make through kernel/builder (unshare … setpriv … make), or make itself
  'src/api/kernel.ts exec(cmd': [], // passes buildKernel's commands on (kernel/build.ts, kernel/source.ts)
  'src/steps/kernel.ts requireTool(t': ['make', 'gcc', 'flex', 'bison', 'bc', 'tar', 'xz', 'depmod'], // KERNEL_BUILD_TOOLS
  'src/steps/file-edits.ts exec(cmd': [], // passes ctx.exec on (the EditContext)
  'src/runner/build.ts exec(cmd': [], // hooks: the user's script
  'src/steps/debootstrap.ts exec(o.backend': ['debootstrap', 'mmdebstrap'],
  'src/steps/pack.ts exec(argv[0]!': ['mksquashfs', 'tar', 'zstd'],
  'src/steps/debootstrap.ts requireTool(o.backend': ['debootstrap', 'mmdebstrap'],
  'src/steps/mkfs.ts exec(`mkfs.${o.fs}`': ['mkfs.ext2', 'mkfs.ext3', 'mkfs.ext4', 'mkfs.btrfs', 'mkfs.xfs'],
  'src/steps/mkfs.ts requireTool(`mkfs.${o.fs}`': ['mkfs.ext2', 'mkfs.ext3', 'mkfs.ext4', 'mkfs.btrfs', 'mkfs.xfs'],
  'src/steps/pack.ts exec(`mkfs.${o.fs}`': ['mkfs.ext2', 'mkfs.ext3', 'mkfs.ext4'],
  'src/steps/pack.ts requireTool(`mkfs.${o.fs}`': ['mkfs.ext2', 'mkfs.ext3', 'mkfs.ext4'],
  "src/steps/pack.ts requireTool(o.fs === 'tar.zst' ? 'zstd' : 'tar'": ['zstd', 'tar'],
  'src/runner/verify.ts findTool(tool': [], // requireTool's implementation: its callers are scanned
  'src/doctor.ts findTool(tool': [], // every tool of the table
  'src/doctor.ts findTool(t': ['make', 'gcc', 'flex', 'bison', 'bc', 'tar', 'xz', 'depmod', 'ccache'], // kernel builds: KERNEL_BUILD_TOOLS and ccache
  'src/host/userns.ts findTool(tool': ['unshare', 'newuidmap', 'newgidmap'],
  'src/steps/run.ts exec(cmd!': ['sh'], // chroot: false runs /bin/sh or the recipe's argv
  'src/steps/hook.ts exec(script': [], // the user's script
  'src/runner/on-failure.ts spawn(shell.cmd': ['chroot', 'sh'], // --on-failure shell: chroot ROOT /bin/sh, or the host's $SHELL / sh
  'src/uml/boot.ts exec(cmd!': ['setpriv', 'test'], // asGuest(['test', ...])
  'src/uml/mconsole.ts exec(cmd!': ['ip', 'uml_mconsole'],
  'src/uml/boot-test.ts spawn(argv[0]!': ['ip', 'setpriv', 'linux'], // netns wrap, asGuest, the launch argv
  'src/uml/machine.ts spawn(argv[0]!': ['ip', 'setpriv', 'linux'], // netns wrap, asGuest, the launch argv
  'src/uml/probe.ts exec(argv[0]!': ['ip', 'setpriv', 'linux'],
  'src/host/debugfs.ts exec(tool': ['debugfs', 'e2fsck'], // e2tool (with eatmydata's library preloaded when installed)
};

/** Tools run by what umlbuild writes or ships, not by a call in src/*.ts. */
const SCRIPTS: Record<string, string[]> = {
  'src/templates/launch.sh.ejs': ['sh', 'dirname', 'basename', 'id', 'setpriv', 'getcap', 'grep', 'taskset', 'linux'],
  'recipes/busybox.yml': ['busybox', 'ldd', 'mkdir', 'cp', 'ln'],
  'test/e2e/proxy.test.ts': ['apt-cacher-ng'], // the package cache the test starts
  'src/host/bmap.ts': ['bmaptool'], // the check the block map names (and the tests run)
};

interface Found {
  literal: Map<string, string[]>;
  dynamic: Set<string>;
}

async function scan(): Promise<Found> {
  const literal = new Map<string, string[]>();
  const dynamic = new Set<string>();
  const note = (tool: string, where: string) => literal.set(tool, [...(literal.get(tool) ?? []), where]);
  for (const file of await sources(join(PROJECT, 'src'))) {
    const rel = relative(PROJECT, file);
    if (rel === 'src/host/exec.ts' || rel === 'src/host/tools.ts') continue;
    const text = await readFile(file, 'utf8');
    // exec(/spawn( as functions or ctx./session./opts. methods, not RegExp#exec; requireTool(s)/findTool.
    const call = /(?<![\w/.])((?:ctx\.)?(?:exec|spawn))\(\s*|(?:requireTool|findTool)\(\s*|requireTools\(\s*\[/g;
    for (const m of text.matchAll(call)) {
      const rest = text.slice(m.index + m[0].length);
      const lit = /^(['"])([^'"$]+)\1/.exec(rest);
      if (m[0].startsWith('requireTools')) {
        for (const t of /^([^\]]*)\]/.exec(rest)![1]!.matchAll(/'([^']+)'/g)) note(t[1]!, rel);
      } else if (lit) note(lit[2]!, rel);
      else if (/^\w+\??:/.test(rest))
        continue; // a declaration: exec(cmd: string, ...)
      else dynamic.add(`${rel} ${m[0].replace(/^ctx\.|\s+$/g, '')}${/^[^,)]+/.exec(rest)![0]}`);
    }
    // Argument vectors built for a dynamic call above (asGuest, the netns wrapper, mconsole).
    for (const m of text.matchAll(/\[\s*'(setpriv|ip|uml_mconsole)',/g)) note(m[1]!, rel);
    for (const m of text.matchAll(/^\s*'(setpriv)',$/gm)) note(m[1]!, rel);
  }
  return { literal, dynamic };
}

function readmeInstallLine(readme: string, prefix: string): string[] {
  const line = readme.split('\n').find((l) => l.startsWith(`${prefix}apt-get install -y `));
  assert.ok(line, `README.md has a line starting "${prefix}apt-get install -y"`);
  return line
    .slice(prefix.length)
    .replace(/^apt-get install -y /, '')
    .split('&&')[0]!
    .trim()
    .split(/\s+/);
}

describe('host tools: the code, doctor and the README agree', () => {
  let found: Found;
  before(async () => {
    found = await scan();
  });

  it('every tool the code runs by name is in the table', () => {
    const missing = [...found.literal].filter(([t]) => !HOST_TOOLS[t]).map(([t, w]) => `${t} (${[...new Set(w)].join(', ')})`);
    assert.deepEqual(missing, [], 'add these to HOST_TOOLS in src/host/tools.ts, with their Debian package');
  });

  it('every call with a computed command is accounted for, and its tools are in the table', () => {
    assert.deepEqual([...found.dynamic].sort(), Object.keys(DYNAMIC).sort(), 'a new exec/spawn with a computed command: add it to DYNAMIC here with the tools it can run');
    for (const [site, tools] of Object.entries(DYNAMIC)) for (const t of tools) assert.ok(HOST_TOOLS[t], `${t} (${site}) is in the table`);
  });

  it('the tools the launch script and the busybox recipe run are in the table', async () => {
    for (const [file, tools] of Object.entries(SCRIPTS)) {
      const text = await readFile(join(PROJECT, file), 'utf8');
      for (const t of tools) {
        assert.match(text, new RegExp(`(^|[\\s"$(|/])${t.replace('.', '\\.')}\\b`, 'm'), `${file} runs ${t}`);
        assert.ok(HOST_TOOLS[t], `${t} (${file}) is in the table`);
      }
    }
  });

  it('doctor checks every tool of the table, by package, and the archive defaults', async () => {
    const r = await doctor();
    for (const pkg of new Set(Object.values(HOST_TOOLS).map((h) => h.package))) {
      const tools = Object.entries(HOST_TOOLS)
        .filter(([, h]) => h.package === pkg)
        .map(([t]) => t);
      assert.match(r.lines.join('\n'), new RegExp(`^(ok {6}${pkg}: ${tools.join(' ')}|(MISSING|note   ) ${pkg}: .* missing \\(.*\\))$`, 'm'), pkg);
    }
    assert.match(r.lines.join('\n'), /^ok {6}iproute2: ip$/m);
    assert.match(r.lines.join('\n'), /^ok {6}openssl: openssl$/m);
    assert.match(r.lines.join('\n'), /^ok {6}util-linux: .*\bsetpriv\b/m);
    assert.match(r.lines.join('\n'), /^ok {6}archived suites \(buster\): mirror \S+ \(default_mirror in /m);
  });

  it('doctor lists what kernel builds need: tools, C headers, the source package (its version), libelf, ccache', async () => {
    const r = await doctor();
    const text = r.lines.join('\n');
    const version = (await exec('dpkg-query', ['-W', '-f', '${Version}', 'linux-source-6.1'], { reject: false })).stdout.trim();
    if (version)
      assert.match(
        text,
        new RegExp(`^ok {6}kernel builds \\(the kernel step, umlbuild kernel\\): compiler and tools make gcc flex bison bc tar xz depmod, C library headers, source linux-source-6\\.1 ${version.replace(/[.+]/g, '\\$&')}$`, 'm'),
      );
    else assert.match(text, /^note {4}kernel builds .* missing; optional: apt-get install .*linux-source-6\.1/m);
    // Nothing present: every piece named, with the packages to install; never counted as missing for umlbuild as a whole.
    const lines: string[] = [];
    await kernelBuildLines(lines, { has: async (t) => t === 'tar', exists: () => false, version: async () => '' });
    assert.deepEqual(lines, [
      'note    kernel builds (the kernel step, umlbuild kernel): make gcc flex bison bc xz depmod /usr/include/stdio.h /usr/src/linux-source-6.1.tar.xz missing; optional: apt-get install make gcc flex bison bc xz-utils kmod libc6-dev linux-source-6.1',
      "note    kernel builds: libelf-dev missing (only for configs that build objtool or BTF; umlbuild's base config does not)",
      'note    kernel builds: ccache missing (optional: faster rebuilds)',
    ]);
    assert.ok(!r.missingPackages.includes('linux-source-6.1'));
  });

  it('umlbuild test and boot check their tools before use (exit 3, with the package)', async () => {
    const e = await requireTools(['ip', 'umlbuild-no-such-tool'], 'a stand-in command').then(
      () => undefined,
      (x: unknown) => x,
    );
    assert.ok(e instanceof HostError);
    assert.equal(e.exitCode, 3);
    assert.match(e.message, /^missing host tool umlbuild-no-such-tool \(package umlbuild-no-such-tool\), needed by a stand-in command\n {2}install: apt-get install umlbuild-no-such-tool$/);
    // The network namespace (ip) and the guest user (getent, useradd, setpriv) are checked where they are made.
    assert.deepEqual(found.literal.get('ip')?.includes('src/uml/netns.ts'), true);
    for (const t of ['getent', 'useradd', 'setpriv']) assert.ok(found.literal.get(t)?.includes('src/uml/guest.ts'), t);
    assert.match(await readFile(join(PROJECT, 'src/uml/netns.ts'), 'utf8'), /createNetns\([^)]*\)[^{]*\{\n\s+await requireTools\(\['ip'\]/);
    assert.match(await readFile(join(PROJECT, 'src/uml/guest.ts'), 'utf8'), /if \(!isRoot\(\)\) return undefined;\n\s+await requireTools\(\['getent', 'useradd', 'setpriv'\]/);
  });

  it('the table has no tool nothing runs', () => {
    const used = new Set([...found.literal.keys(), ...Object.values(DYNAMIC).flat(), ...Object.values(SCRIPTS).flat()]);
    assert.deepEqual(
      Object.keys(HOST_TOOLS).filter((t) => !used.has(t)),
      [],
    );
  });

  it("README's install line names exactly the table's needed packages, its optional line the others", async () => {
    const readme = await readFile(join(PROJECT, 'README.md'), 'utf8');
    assert.deepEqual(readmeInstallLine(readme, '').sort(), requiredPackages());
    assert.deepEqual(readmeInstallLine(readme, '# optional, for other step options: ').sort(), optionalPackages());
    assert.ok(requiredPackages().includes('kmod') && requiredPackages().includes('iproute2') && requiredPackages().includes('openssl'));
  });

  it('.ci/run installs the packages of the README lines', async () => {
    const ci = await readFile(join(PROJECT, '.ci/run'), 'utf8');
    assert.match(ci, /readme_packages ''\)/);
    assert.match(ci, /readme_packages '# optional, for other step options:'\)/);
    // Its extraction, run on the README, gives the same lists the test parsed.
    const fn = /readme_packages\(\) \{\n([\s\S]*?)\n\}/.exec(ci)![0];
    const r = await exec('bash', ['-c', `${fn}\nreadme_packages ''; readme_packages '# optional, for other step options:'`], { cwd: PROJECT });
    const [req, opt] = r.stdout.split('\n').map((l) => l.trim().split(/\s+/).sort());
    assert.deepEqual(req, requiredPackages());
    assert.deepEqual(opt, optionalPackages());
  });

  it(".ci/run runs README's test commands, in order, after npm ci", async () => {
    const ci = (await readFile(join(PROJECT, '.ci/run'), 'utf8')).split('\n');
    const readme = await readFile(join(PROJECT, 'README.md'), 'utf8');
    const block = /\n## Tests\n\n```sh\n([\s\S]*?)```/.exec(readme)?.[1];
    assert.ok(block, 'README has a sh block under "Tests"');
    const commands = block
      .split('\n')
      .map((l) => l.replace(/\s+#.*$/, '').trim())
      .filter(Boolean);
    assert.deepEqual(commands, ['npm test', 'npm run test:kernel']);
    const at = commands.map((c) => ci.indexOf(c));
    assert.ok(
      at.every((i, n) => i > ci.findIndex((l) => l.startsWith('npm ci')) && (n === 0 || i > at[n - 1]!)),
      `${at} in\n${ci.join('\n')}`,
    );
  });

  it("each installed tool's package is the one dpkg says provides it", async () => {
    // Merged /usr: dpkg may know a file under /bin or /sbin; /usr/bin/linux is an alternative (readlink -f).
    const names = new Map<string, string[]>();
    for (const tool of Object.keys(HOST_TOOLS)) {
      const path = await findTool(tool);
      if (!path) continue;
      const real = (await exec('readlink', ['-f', path])).stdout.trim();
      names.set(tool, [...new Set([path, real, ...[path, real].map((p) => p.replace(/^\/usr\//, '/'))])]);
    }
    const r = await exec('dpkg', ['-S', ...new Set([...names.values()].flat()), ...Object.keys(HOST_FILES)], { reject: false });
    const owners = new Map<string, string[]>();
    for (const line of r.stdout.split('\n')) {
      const m = /^([^:]+(?::[\w-]+)?(?:, [^:]+)*): (\/\S+)$/.exec(line);
      if (m && !line.startsWith('diversion'))
        owners.set(
          m[2]!,
          m[1]!.split(', ').map((o) => o.split(':')[0]!),
        );
    }
    for (const [tool, paths] of names) {
      const pkgs = paths.flatMap((p) => owners.get(p) ?? []);
      assert.ok(pkgs.includes(HOST_TOOLS[tool]!.package), `${tool} (${paths[0]}) belongs to ${pkgs.join(', ') || 'no package'}, the table says ${HOST_TOOLS[tool]!.package}`);
    }
    assert.ok(names.size >= 40, `checked ${names.size} tools`);
    for (const [file, h] of Object.entries(HOST_FILES)) assert.deepEqual(owners.get(file), [h.package]);
  });
});
