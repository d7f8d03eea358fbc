/**
 * The package the way a user gets it: `npm pack` in this checkout (its
 * `prepack` builds dist/), then `npm install -g --prefix PREFIX TARBALL` into
 * a temporary prefix. The install takes the dependencies from the local npm
 * cache (`--offline`: the cache `npm ci` filled), so it needs no network.
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
  const install = await exec('npm', ['install', '-g', '--prefix', prefix, '--offline', '--no-audit', '--no-fund', tarball], { cwd: dir, env: npmEnv(), reject: false });
  const log = `${pack.stdout}\n${pack.stderr}\n${install.stdout}\n${install.stderr}`;
  if (install.exitCode !== 0) throw new Error(`npm install -g --prefix ${prefix} --offline ${tarball} failed (${install.exitCode}); a dependency missing from the npm cache needs the network:\n${log}`);
  return { tarball, prefix, bin: join(prefix, 'bin', 'umlbuild'), root: join(prefix, 'lib', 'node_modules', 'umlbuild'), log };
}
