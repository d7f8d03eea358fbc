/**
 * Which UML kernel boots an image: the image's own (a `kernel` step built it;
 * the manifest names the file beside it with its sha256, checked before it
 * runs), another one given with `--kernel PATH`, or `linux` from PATH. A
 * kernel's config, when it is known (the manifest's, or PATH.config, or the
 * .config of the kernel build tree PATH is in), is checked against what the
 * launch configuration needs (launch/kernel-config.ts) before booting.
 */
import { basename, dirname, join, resolve } from 'node:path';
import { EXIT, UserError } from '../errors.js';
import { type FileHandle, lstat } from 'node:fs/promises';
import { openForGuest, type RunAs } from './guest.js';
import { sha256File, sha256Text } from '../host/hashing.js';
import { openRegularFile } from '../host/pinned-file.js';
import { checkKernelConfig, kernelNeeds, type KernelConfigProblem } from '../launch/kernel-config.js';
import type { LaunchConfig } from '../launch/schema.js';
import type { BuiltImage } from './target.js';

/** The kernel a boot uses, for the report. */
export interface KernelUsed {
  /** The file that ran (`linux`: the one on PATH). */
  path: string;
  /** `uname -r` of it, when known (the manifest records it). */
  release?: string;
  /** Where it came from: the image's manifest, --kernel, or PATH. */
  origin: 'image' | 'option' | 'path';
  /** What was found of its config: "checked against <file>", or "config unknown: not checked". */
  config: string;
}

/** sha256 of an open file (its /proc/PID/fd/N name: the same file whatever its name is now). */
export function sha256Open(fd: number): Promise<string> {
  return sha256File(`/proc/${process.pid}/fd/${fd}`);
}

/** Refuse a kernel file whose sha256 is not the manifest's. */
export function checkKernelSha(img: Pick<BuiltImage, 'manifestFile'>, file: string, got: string, want: string): void {
  if (got !== want) {
    throw new UserError(
      `refusing to boot with ${file}: its sha256 ${got} is not the one ${img.manifestFile} records (kernel.sha256 ${want}); the image's kernel was changed or replaced: rebuild the image, or boot another kernel with --kernel PATH`,
      EXIT.invalid,
    );
  }
}

/**
 * The image's own kernel opened for UML to inherit (never through a link;
 * readable and executable by `who`) once its sha256 is the manifest's;
 * undefined for an image booted with `linux` from PATH.
 */
export async function openImageKernel(img: Pick<BuiltImage, 'kernel' | 'manifestFile'>, who: RunAs | undefined): Promise<FileHandle | undefined> {
  if (!img.kernel) return undefined;
  const fh = await openForGuest(img.kernel.file, who, "the image's kernel", false, false, true);
  try {
    checkKernelSha(img, img.kernel.file, await sha256Open(fh.fd), img.kernel.sha256);
    return fh;
  } catch (e) {
    await fh.close();
    throw e;
  }
}

/** Read a small regular file without following a link; undefined when there is none (`optional`). */
async function readRegular(file: string, what: string, optional: boolean): Promise<string | undefined> {
  if (optional) {
    const st = await lstat(file).catch(() => undefined);
    if (!st) return undefined;
  }
  const f = await openRegularFile(file, what);
  try {
    return await f.fh.readFile('utf8');
  } finally {
    await f.close();
  }
}

/** The config of a kernel given by path: PATH.config, or the .config of the kernel build tree it is in. */
export async function configBeside(kernel: string): Promise<{ file: string; text: string } | undefined> {
  for (const file of [`${kernel}.config`, join(dirname(kernel), '.config')]) {
    const text = await readRegular(file, 'kernel config', true);
    if (text !== undefined) return { file, text };
  }
  return undefined;
}

/** The image's own kernel config, checked against the manifest's config_sha256. */
export async function imageKernelConfig(img: BuiltImage): Promise<{ file: string; text: string } | undefined> {
  const k = img.kernel;
  if (!k?.config) return undefined;
  const text = (await readRegular(k.config, 'kernel config', false))!;
  if (sha256Text(text) !== k.configSha256) throw new UserError(`${k.config}: its sha256 is not the one ${img.manifestFile} records (kernel.config_sha256): the image's kernel config was changed; rebuild the image`, EXIT.invalid);
  return { file: k.config, text };
}

/** What booting `img` with this launch configuration needs of the kernel, unmet by `configText`. */
export function kernelProblems(img: Pick<BuiltImage, 'hostfsRoot' | 'fs'>, launch: Pick<LaunchConfig, 'disks' | 'consoles' | 'networks' | 'hostfs'>, configText: string, mconsole: boolean): KernelConfigProblem[] {
  return checkKernelConfig(configText, kernelNeeds({ launch, rootfs: img.hostfsRoot ? 'hostfs' : 'image', fs: img.fs, mconsole }));
}

/**
 * Check a known config; refuse (exit 2) listing each unmet need, pass the
 * optional ones to `warn`. Returns the report's line for it.
 */
export function refuseUnmet(kernel: string, config: { file: string; text: string } | undefined, problems: KernelConfigProblem[], warn?: (l: string) => void): string {
  if (!config) return 'config unknown: not checked';
  const hard = problems.filter((p) => !p.optional);
  for (const p of problems.filter((x) => x.optional)) warn?.(`warning: ${p.message}`);
  if (hard.length) {
    throw new UserError(`refusing to boot with ${kernel}: its config ${config.file} lacks what the image's launch configuration needs:\n${hard.map((p) => `  ${p.message}`).join('\n')}`, EXIT.invalid);
  }
  return `config ${config.file} checked`;
}

/** A --kernel PATH, absolute, with its base name for messages. */
export function kernelOption(path: string): string {
  const abs = resolve(path);
  if (!basename(abs)) throw new UserError(`--kernel ${path}: not a file`, EXIT.invalid);
  return abs;
}

/** The kernel line of a report: "kernel /out/demo.linux (6.1.176, the image's own; config ... checked)". */
export function kernelLine(k: KernelUsed): string {
  const origin = k.origin === 'image' ? "the image's own" : k.origin === 'option' ? '--kernel' : 'linux from PATH';
  return `kernel ${k.path} (${k.release ? `${k.release}, ` : ''}${origin}; ${k.config})`;
}
