/**
 * `umlbuild boot`: run the image's launch script with this terminal as its
 * console — only the script umlbuild wrote: its sha256 must be the one the
 * manifest recorded, and its text the one umlbuild renders from the (checked)
 * manifest now, so a script and manifest planted together cannot run more
 * than a checked launch configuration allows. The verified text is what runs
 * (`sh -c TEXT SCRIPT ...`), not the file read again. As root, UML runs as
 * the unprivileged umlbuild-guest unless --user or --allow-root says otherwise.
 */
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { openRegularFile } from '../host/pinned-file.js';
import { checkKernelSha, configBeside, imageKernelConfig, kernelLine, kernelProblems, refuseUnmet, sha256Open, type KernelUsed } from './kernel-file.js';
import { EXIT, UserError } from '../errors.js';
import { exec, spawn } from '../host/exec.js';
import { renderLaunchScript } from '../templates/launch-script.js';
import { sha256Text } from '../host/hashing.js';
import { asGuest, guestUser, type RunAs } from './guest.js';
import { guestTempDir } from './guest-files.js';
import type { BuiltImage } from './target.js';

/** The launch script's text, if it is the one umlbuild generated for this manifest. */
export async function verifiedLaunchScript(img: BuiltImage): Promise<string> {
  const fh = await open(img.script, constants.O_RDONLY | constants.O_NOFOLLOW).catch((e: NodeJS.ErrnoException) => {
    throw new UserError(`no launch script ${img.script} (${e.code === 'ELOOP' ? 'it is a symbolic link' : e.code})`, EXIT.invalid);
  });
  let text: string;
  try {
    if (!(await fh.stat()).isFile()) throw new UserError(`${img.script} is not a regular file`, EXIT.invalid);
    text = await fh.readFile('utf8');
  } finally {
    await fh.close();
  }
  const refuse = (why: string) => new UserError(`refusing to run ${img.script}: ${why}; umlbuild boot runs only the launch script umlbuild wrote (rebuild the image)`, EXIT.invalid);
  if (!img.scriptSha256) throw refuse(`${img.manifestFile} records no sha256 for it`);
  if (sha256Text(text) !== img.scriptSha256) throw refuse(`its sha256 is not the one ${img.manifestFile} recorded (launch.script_sha256)`);
  const expected = await renderLaunchScript({ name: img.name, image: img.image, umid: img.umid, launch: img.launch, cow: img.cow, hostfsRoot: img.hostfsRoot, kernel: img.kernel && basename(img.kernel.file) });
  if (text !== expected) throw refuse(`it is not the script umlbuild writes for the launch configuration in ${img.manifestFile}`);
  return text;
}

/**
 * The kernel the script will run, checked first: `--kernel PATH` (a regular
 * file, its config checked when one is beside it) becomes UML_LINUX; else the
 * image's own must have the manifest's sha256 and its config what the launch
 * configuration needs. The script runs it by path.
 */
async function checkBootKernel(img: BuiltImage, option: string | undefined, warn: (l: string) => void): Promise<KernelUsed> {
  if (option) {
    const f = await openRegularFile(option, 'kernel');
    await f.close();
    const config = await configBeside(option);
    return { path: option, origin: 'option', config: refuseUnmet(option, config, config ? kernelProblems(img, img.launch, config.text, false) : [], warn) };
  }
  if (!img.kernel) return { path: 'linux', origin: 'path', config: 'config unknown: not checked' };
  const k = img.kernel;
  const f = await openRegularFile(k.file, "the image's kernel");
  try {
    checkKernelSha(img, k.file, await sha256Open(f.fh.fd), k.sha256);
  } finally {
    await f.close();
  }
  const config = await imageKernelConfig(img);
  return { path: k.file, release: k.release, origin: 'image', config: refuseUnmet(k.file, config, config ? kernelProblems(img, img.launch, config.text, false) : [], warn) };
}

export async function bootInteractive(img: BuiltImage, extra: string[], o: { cow?: string; user?: string; allowRoot?: boolean; kernel?: string; log?: (l: string) => void }): Promise<number> {
  const text = await verifiedLaunchScript(img);
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (k.startsWith('UML_') && v !== undefined) env[k] = v;
  const log = o.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  // UML_LINUX from the environment is the caller's own choice, as with the launch script; else the kernel is checked here.
  if (o.kernel || !env.UML_LINUX) {
    const used = await checkBootKernel(img, o.kernel, log);
    if (o.kernel) env.UML_LINUX = o.kernel;
    log(`umlbuild boot: ${kernelLine(used)}`);
  }
  if (o.cow) env.UML_UBD0 = `${resolve(o.cow)},${img.image}`;
  if (o.user) env.UML_USER = o.user;
  let guest: RunAs | undefined;
  // Not the manifest's launch.user: a manifest handed over could name anybody.
  if (!o.user && !o.allowRoot && !env.UML_USER) {
    guest = await guestUser();
    if (guest) {
      env.UML_USER = guest.name;
      // The script opens files by path: say so plainly when that user cannot reach them.
      const can = async (test: string, path: string) => {
        const [cmd, ...args] = asGuest(['test', test, path], guest);
        return (await exec(cmd!, args, { reject: false })).exitCode === 0;
      };
      const need: [string, string][] = img.hostfsRoot
        ? [['-w', img.hostfsRoot]]
        : [
            ['-r', img.image],
            ['-w', o.cow ? dirname(resolve(o.cow)) : (img.cow ?? img.image)],
          ];
      for (const [test, path] of need) {
        if (!(await can(test, path)))
          throw new UserError(`UML would run as ${guest.name}, which cannot ${test === '-r' ? 'read' : 'write'} ${path}: give that user access, or use --cow FILE in a directory it may write, --user USER or --allow-root`, EXIT.invalid);
      }
    }
  }
  if (o.allowRoot) env.UML_ALLOW_ROOT = '1';
  if (process.env.TERM) env.TERM = process.env.TERM;
  // UML keeps its mconsole socket in $HOME/.uml: give the guest user a home of its own for this boot.
  const home = guest ? await guestTempDir('umlbuild-boot-', guest) : undefined;
  try {
    if (home) env.HOME = home.path;
    const run = spawn('sh', ['-c', text, img.script, ...extra], { env, inherit: true });
    const r = await run.exited;
    return r.exitCode ?? (r.signal ? 1 : 0);
  } finally {
    await home?.cleanup();
  }
}
