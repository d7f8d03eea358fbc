/**
 * One kernel built per test run, shared by the kernel tests (npm run
 * test:kernel): linux-source-6.1, defconfig + umlbuild's base fragment + a
 * fragment setting CONFIG_LOCALVERSION to a value chosen per run, two modules
 * as `=m` (dummy, veth: loadable with modprobe in a busybox guest) and one
 * option UML does not have (CONFIG_PCI=y: reported as dropped). Built the way a
 * person does, `bin/umlbuild kernel --fragment F --out DIR`, into a cache under
 * /var/tmp that survives runs (its ccache and unpacked source make the next
 * run's build faster; the per-run LOCALVERSION makes every run build).
 *
 * builtKernel() builds once per process and returns the paths; kernelRecipe()
 * writes the busybox recipe with its modules step replaced by a kernel step
 * using the same fragment (a build of it takes the kernel from the cache).
 */
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { exec } from '../../src/host/exec.js';
import { BIN, PROJECT } from '../helpers.js';

/** $XDG_CACHE_HOME of the kernel tests: the README test runs its commands with it, so its builds share the fixture's cache. */
export const KERNEL_TEST_HOME = '/var/tmp/umlbuild-kernel-tests';
/** The cache the kernel tests share (kept across runs: ccache, unpacked sources, build directories): the default cache under KERNEL_TEST_HOME. */
export const KERNEL_TEST_CACHE = join(KERNEL_TEST_HOME, 'umlbuild');
/** This run's files: the fragment, --out directories, recipes. */
export const KERNEL_TEST_RUN = `/var/tmp/umlbuild-kernel-tests/run-${process.pid}`;

export interface KernelFixture {
  cacheDir: string;
  /** The fragment file (absolute). */
  fragment: string;
  /** `-t<hex>`: the CONFIG_LOCALVERSION of this run. */
  localversion: string;
  /** `uname -r` of the built kernel (6.1.x-t<hex>). */
  release: string;
  /** The --out directory: linux, linux.config, System.map, lib/modules/<release>. */
  out: string;
  linux: string;
  config: string;
  systemMap: string;
  modulesDir: string;
  /** The cache entry (linux, config, System.map, modules.tar). */
  entry: string;
  /** What `umlbuild kernel` printed (stdout, stderr). */
  stdout: string;
  stderr: string;
  /** Its wall time. */
  seconds: number;
}

let built: Promise<KernelFixture> | undefined;

/** The run's kernel, built on first call (minutes; later calls share the promise). */
export function builtKernel(): Promise<KernelFixture> {
  built ??= build();
  return built;
}

/** `bin/umlbuild kernel ...args` with the shared cache. */
export function umlbuildKernel(args: string[], opts: { reject?: boolean } = {}) {
  return exec(BIN, ['kernel', '--cache-dir', KERNEL_TEST_CACHE, ...args], { reject: opts.reject ?? true, timeoutMs: 60 * 60_000, onLine: () => undefined });
}

async function build(): Promise<KernelFixture> {
  // Entries and records of earlier runs (their LOCALVERSION is never asked for again); ccache, sources and build directories stay.
  const kernels = join(KERNEL_TEST_CACHE, 'kernels');
  for (const f of await readdir(kernels).catch(() => [] as string[])) if (/^[0-9a-f]{32}(\.json)?$/.test(f)) await rm(join(kernels, f), { recursive: true, force: true });
  await mkdir(KERNEL_TEST_RUN, { recursive: true });
  // This run's files go when the test process does (later test files may still use them).
  process.once('exit', () => rmSync(KERNEL_TEST_RUN, { recursive: true, force: true }));
  const localversion = `-t${randomBytes(3).toString('hex')}`;
  const fragment = join(KERNEL_TEST_RUN, 'test.config');
  await writeFile(fragment, `# the kernel tests' fragment\nCONFIG_LOCALVERSION="${localversion}"\nCONFIG_LOCALVERSION_AUTO=n\nCONFIG_DUMMY=m\nCONFIG_VETH=m\nCONFIG_PCI=y\n`);
  const out = join(KERNEL_TEST_RUN, 'out');
  const t0 = performance.now();
  const r = await umlbuildKernel(['--fragment', fragment, '--out', out]);
  const seconds = (performance.now() - t0) / 1000;
  const release = /^kernel (\S+): /m.exec(r.stdout)?.[1];
  if (!release) throw new Error(`umlbuild kernel printed no release:\n${r.stdout}\n${r.stderr.slice(-2000)}`);
  const entry = r.stdout.split('\n')[1]!.trim();
  return {
    cacheDir: KERNEL_TEST_CACHE,
    fragment,
    localversion,
    release,
    out,
    linux: join(out, 'linux'),
    config: join(out, 'linux.config'),
    systemMap: join(out, 'System.map'),
    modulesDir: join(out, 'lib', 'modules', release),
    entry,
    stdout: r.stdout,
    stderr: r.stderr,
    seconds,
  };
}

/** recipes/busybox.yml with a kernel step (this run's fragment) instead of its modules step, written into the run's directory. */
export async function kernelRecipe(fixture: Pick<KernelFixture, 'fragment'>, name = 'busybox-kernel'): Promise<string> {
  const text = (await readFile(join(PROJECT, 'recipes', 'busybox.yml'), 'utf8'))
    .replace(/^name: busybox$/m, `name: ${name}`)
    .replace(/^output: busybox$/m, `output: ${name}`)
    .replace('template: busybox/shadow.ejs', `template: ${join(PROJECT, 'recipes', 'busybox', 'shadow.ejs')}`)
    .replace('  - step: modules\n', `  - step: kernel\n    fragments: [${fixture.fragment}]\n`);
  if (!text.includes('step: kernel')) throw new Error('recipes/busybox.yml has no modules step to replace');
  const file = join(KERNEL_TEST_RUN, `${name}.yml`);
  await writeFile(file, text);
  return file;
}
