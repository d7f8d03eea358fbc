/**
 * `modules`: put the UML kernel's modules into /lib/modules/<version> of the
 * rootfs, from the Debian user-mode-linux package (/usr/lib/uml/modules) or
 * from a kernel build tree (`make modules_install`). Runs depmod when
 * modules.dep is missing.
 *
 * ```yaml
 * - step: modules
 *   from: /usr/lib/uml/modules   # default; or `kernel_tree: /src/linux`
 *   version: auto                # default: the only (or newest) version there
 * ```
 */
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { mkdirInRoot, resolveInRoot } from '../host/rootfs-path.js';
import type { Step } from './types.js';

export const UML_MODULES = '/usr/lib/uml/modules';

const schema = z
  .object({
    from: z.string().default(UML_MODULES),
    kernel_tree: z.string().optional(),
    version: z.string().regex(/^(auto|[\w.+~-]+)$/).default('auto'),
  })
  .strict();

type Options = z.infer<typeof schema>;

function compareVersions(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true });
}

export async function pickVersion(dir: string, wanted: string): Promise<string | undefined> {
  const versions = (await readdir(dir).catch(() => [] as string[])).filter((v) => existsSync(join(dir, v, 'kernel')) || existsSync(join(dir, v, 'modules.order')));
  if (wanted !== 'auto') return versions.includes(wanted) ? wanted : undefined;
  return versions.sort(compareVersions).pop();
}

export const modules: Step<Options> = {
  kind: 'modules',
  summary: 'copy the UML kernel modules into /lib/modules/<version>',
  schema,
  title: (o) => `Install kernel modules${o.version !== 'auto' ? ` ${o.version}` : ''} from ${o.kernel_tree ?? o.from}`,
  async verify(o, ctx) {
    ctx.requireRoot('files in the image belong to root', { userns: true });
    await ctx.requireTool('depmod');
    if (o.kernel_tree) {
      await ctx.requireTool('make');
      if (!existsSync(join(o.kernel_tree, 'Makefile'))) ctx.problem(`${o.kernel_tree} is not a kernel build tree (no Makefile)`, 'kernel_tree');
      return;
    }
    if (!(await pickVersion(o.from, o.version))) {
      ctx.problem(
        `no kernel modules${o.version !== 'auto' ? ` for ${o.version}` : ''} in ${o.from}` +
          (o.from === UML_MODULES ? ' (install the user-mode-linux package)' : ''),
        o.version !== 'auto' ? 'version' : 'from',
      );
    }
  },
  async run(o, ctx) {
    const root = ctx.requireRootfs();
    let version: string;
    if (o.kernel_tree) {
      const { stdout } = await ctx.exec('make', ['-s', '-C', o.kernel_tree, 'ARCH=um', 'kernelrelease']);
      version = stdout.trim();
      // modules_install writes under INSTALL_MOD_PATH/lib/modules: give it the resolved directory.
      const usrOrRoot = (await resolveInRoot(root, '/lib')).slice(0, -'/lib'.length) || root;
      await ctx.exec('make', ['-C', o.kernel_tree, 'ARCH=um', `INSTALL_MOD_PATH=${usrOrRoot}`, 'modules_install']);
    } else {
      version = (await pickVersion(o.from, o.version))!;
      const dest = await mkdirInRoot(root, `/lib/modules/${version}`);
      await ctx.exec('cp', ['-a', '--no-preserve=ownership', '-T', join(o.from, version), dest]);
    }
    const depFile = await resolveInRoot(root, `/lib/modules/${version}/modules.dep`);
    if (!existsSync(depFile)) await ctx.exec('depmod', ['-b', root, version]);
    ctx.facts.kernelVersion = version;
  },
};
