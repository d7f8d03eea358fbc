/** The StepContext a build hands to each step. */
import { existsSync } from 'node:fs';
import { exec } from '../host/exec.js';
import { fetchEnv } from '../host/proxy.js';
import { resolveInRoot, writeFileInRoot } from '../host/rootfs-path.js';
import type { Plan } from '../recipe/load.js';
import type { StepContext } from '../steps/types.js';
import type { Teardown } from '../host/teardown.js';

export function createContext(plan: Plan, image: string, teardown: Teardown, signal: AbortSignal, rootDir = `${image}.root`): StepContext {
  const ctx: StepContext = {
    recipeDir: plan.dir,
    recipeFile: plan.file,
    vars: plan.vars,
    image,
    rootDir,
    imageCreated: false,
    facts: {},
    reproducible: plan.reproducible,
    teardown,
    signal,
    fetchEnv: fetchEnv(plan.aptProxy),
    log: () => undefined,
    exec: (cmd, args, opts = {}) =>
      exec(cmd, args, {
        signal,
        onLine: (l) => ctx.log(l),
        onCommand: (l) => ctx.log(`$ ${l}`),
        ...opts,
      }),
    requireRootfs() {
      if (!ctx.rootfs) throw new Error('no rootfs yet: put a mount step before this one');
      return ctx.rootfs;
    },
    writeFile: (path, content, opts) => writeFileInRoot(ctx.requireRootfs(), path, content, opts),
    async collectFacts() {
      if (!ctx.rootfs) return;
      const admindir = await resolveInRoot(ctx.rootfs, '/var/lib/dpkg');
      if (!existsSync(`${admindir}/status`)) return;
      const { stdout } = await exec('dpkg-query', [`--admindir=${admindir}`, '-W', '-f', '${db:Status-Abbrev}\t${Package}\t${Version}\n']);
      ctx.facts.packages = stdout
        .split('\n')
        .map((l) => l.split('\t'))
        .filter(([status]) => status?.startsWith('ii'))
        .map(([, name, version]) => ({ name: name!, version: version! }));
    },
  };
  return ctx;
}
