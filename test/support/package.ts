/**
 * The package the way a user gets it: `npm pack` in this checkout (its
 * `prepack` builds dist/), then `npm install -g --prefix PREFIX TARBALL` into
 * a temporary prefix. The install takes the dependencies from the local npm
 * cache (`--offline`: the cache `npm ci` filled); when that cache lacks the
 * registry's metadata for them, it asks the registry for that once
 * (`--prefer-offline`: the packages themselves still come from the cache).
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { exec } from '../../src/host/exec.js';
import { PROJECT } from '../helpers.js';

export interface Installed {
  /** The packed tarball (umlbuild-<version>.tgz). */
  tarball: string;
  /** The install prefix: PREFIX/bin/umlbuild, PREFIX/lib/node_modules/umlbuild. */
  prefix: string;
  /** PREFIX/bin/umlbuild, the command a user runs. */
  bin: string;
  /** The installed package directory. */
  root: string;
  /** What npm printed, for failure messages. */
  log: string;
  /** The install fetched registry metadata missing from the npm cache (`--prefer-offline` after `--offline` failed). */
  network: boolean;
}

/** PATH and HOME only (npm reads its cache from HOME), none of the npm_config_* of an `npm test` around us. */
export const npmEnv = (): Record<string, string> => ({ PATH: process.env.PATH!, HOME: process.env.HOME ?? '/root' });

/** Pack this checkout into `dir` and install the tarball into `dir`/prefix. */
export async function packAndInstall(dir: string): Promise<Installed> {
  const pack = await exec('npm', ['pack', '--pack-destination', dir], { cwd: PROJECT, env: npmEnv(), reject: false });
  if (pack.exitCode !== 0) throw new Error(`npm pack failed (${pack.exitCode}):\n${pack.stdout}\n${pack.stderr}`);
  const tarballs = (await readdir(dir)).filter((f) => /^umlbuild-.*\.tgz$/.test(f));
  if (tarballs.length !== 1) throw new Error(`npm pack made ${tarballs.join(', ') || 'no tarball'} in ${dir}`);
  const tarball = join(dir, tarballs[0]!);
  const prefix = join(dir, 'prefix');
  const install = (mode: '--offline' | '--prefer-offline') => exec('npm', ['install', '-g', '--prefix', prefix, mode, '--no-audit', '--no-fund', tarball], { cwd: dir, env: npmEnv(), reject: false });
  let r = await install('--offline');
  // `npm ci` caches the dependencies' tarballs but not always the registry's metadata an install of a tarball asks for:
  // then the metadata (only) comes from the registry once, and later installs are offline.
  const network = r.exitCode !== 0 && /ENOTCACHED/.test(r.stderr);
  if (network) r = await install('--prefer-offline');
  const log = `${pack.stdout}\n${pack.stderr}\n${r.stdout}\n${r.stderr}`;
  if (r.exitCode !== 0) throw new Error(`npm install -g --prefix ${prefix} ${tarball} failed (${r.exitCode}):\n${log}`);
  return { tarball, prefix, bin: join(prefix, 'bin', 'umlbuild'), root: join(prefix, 'lib', 'node_modules', 'umlbuild'), log, network };
}
