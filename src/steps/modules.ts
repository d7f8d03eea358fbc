/**
 * `modules`: put the UML kernel's modules into /lib/modules/<version> of the
 * rootfs, from the Debian user-mode-linux package (/usr/lib/uml/modules) or
 * from a kernel build tree (`make modules_install`, run unprivileged as the
 * kernel step's builds are). Runs depmod when
 * modules.dep is missing. cp, make and depmod write into a fresh staging
 * directory that is then moved into the tree (host/stage-tree): links in the
 * tree are resolved inside it, never followed onto the host.
 *
 * `kernel_tree:` is a tree someone built by hand (in tree, or an `O=` build
 * directory: its generated Makefile finds the source); it must have been built
 * (include/config/kernel.release). To build a kernel and install its modules,
 * use the `kernel` step instead: it builds unprivileged, caches the result and
 * installs the modules itself.
 *
 * ```yaml
 * - step: modules
 *   from: /usr/lib/uml/modules   # default; or `kernel_tree: /src/linux` (built by hand; see the kernel step)
 *   version: auto                # default: the only (or newest) version there
 * ```
 */
import { existsSync } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { stageIntoRoot } from '../host/stage-tree.js';
import type { Step, StepContext } from './types.js';
import { buildUser, builderArgv, checkRelease, modulesWritten } from '../kernel/builder.js';
import { treeDigest } from '../cache/tree-digest.js';

export const UML_MODULES = '/usr/lib/uml/modules';

const schema = z
  .object({
    from: z.string().default(UML_MODULES),
    kernel_tree: z.string().optional(),
    version: z
      .string()
      .regex(/^(auto|[\w.+~-]+)$/)
      .default('auto'),
  })
  .strict();

type Options = z.infer<typeof schema>;

/** What `make modules_install` copies out of a kernel build tree (its cache inputs). */
const KERNEL_TREE_INPUTS = /(\.ko|^\.config|(^|\/)modules\.(order|builtin[^/]*)|kernel\.release)$/;

function compareVersions(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true });
}

export async function pickVersion(dir: string, wanted: string): Promise<string | undefined> {
  const versions = (await readdir(dir).catch(() => [] as string[])).filter((v) => existsSync(join(dir, v, 'kernel')) || existsSync(join(dir, v, 'modules.order')));
  if (wanted !== 'auto') return versions.includes(wanted) ? wanted : undefined;
  return versions.sort(compareVersions).pop();
}

/**
 * `make modules_install` of a kernel build tree: the tree is outside input and
 * its Makefile runs, so as root it runs the way the kernel step's builds do
 * (kernel/builder.ts: as umlbuild-build, no capabilities, the tree mounted
 * read-only), into a fresh directory of that user's; root then copies the
 * result into the staging directory with cp -a (a link is copied as a link,
 * never followed; no directory on the way may be a link: kernel/builder
 * modulesWritten, shared with the kernel step's builds).
 */
async function installFromTree(tree: string, staging: string, ctx: Pick<StepContext, 'exec'>): Promise<string> {
  const who = await buildUser();
  const out = await mkdtemp(join(tmpdir(), 'umlbuild-modules-'));
  try {
    if (who) await chown(out, who.uid, who.gid);
    const ws = { src: tree, build: out, ccache: out };
    const run = async (command: (p: typeof ws) => string[]) => {
      const [cmd, ...args] = await builderArgv(ws, who, command);
      return ctx.exec(cmd!, args, { env: { HOME: who ? '/nonexistent' : (process.env.HOME ?? '/') } });
    };
    const version = checkRelease((await run((p) => ['make', '-s', '-C', p.src, 'ARCH=um', 'kernelrelease'])).stdout, ` in ${tree}`);
    await run((p) => ['make', '-C', p.src, 'ARCH=um', `INSTALL_MOD_PATH=${p.build}`, 'modules_install']);
    const made = await modulesWritten(out, version);
    for (const d of ['lib', 'lib/modules']) await mkdir(join(staging, d)).then(() => chmod(join(staging, d), 0o755));
    await ctx.exec('cp', ['-a', '--no-preserve=ownership', '-T', made, join(staging, 'lib/modules', version)]);
    return version;
  } finally {
    await rm(out, { recursive: true, force: true });
  }
}

export const modules: Step<Options> = {
  kind: 'modules',
  summary: 'copy the UML kernel modules into /lib/modules/<version>',
  schema,
  traits: {
    requires: ['root'],
    leavesEdits: true,
    // The contents of the modules copied (of a kernel tree: what modules_install takes).
    cacheInputs: async (o, ctx) => ({
      modules: o.kernel_tree ? await treeDigest(o.kernel_tree, { include: (rel) => KERNEL_TREE_INPUTS.test(rel), memo: ctx.digestMemo, memoKey: KERNEL_TREE_INPUTS.source }) : await treeDigest(String(o.from), { memo: ctx.digestMemo }),
    }),
  },
  title: (o) => `Install kernel modules${o.version !== 'auto' ? ` ${o.version}` : ''} from ${o.kernel_tree ?? o.from}`,
  async verify(o, ctx) {
    ctx.requireRoot('files in the image belong to root', { userns: true });
    await ctx.requireTool('depmod');
    if (o.kernel_tree) {
      await ctx.requireTool('make');
      if (!existsSync(join(o.kernel_tree, 'Makefile'))) ctx.problem(`${o.kernel_tree} is not a kernel build tree (no Makefile)`, 'kernel_tree');
      else if (!existsSync(join(o.kernel_tree, 'include', 'config', 'kernel.release'))) {
        ctx.problem(`${o.kernel_tree} has not been built (no include/config/kernel.release): build it first (make ARCH=um), or use the kernel step, which builds the kernel and installs its modules`, 'kernel_tree');
      }
      return;
    }
    if (!(await pickVersion(o.from, o.version))) {
      ctx.problem(`no kernel modules${o.version !== 'auto' ? ` for ${o.version}` : ''} in ${o.from}${o.from === UML_MODULES ? ' (install the user-mode-linux package)' : ''}`, o.version !== 'auto' ? 'version' : 'from');
    }
  },
  async run(o, ctx) {
    const root = ctx.requireRootfs();
    let version = o.kernel_tree ? '' : (await pickVersion(o.from, o.version))!;
    // cp, make and depmod write into a fresh staging directory, never through links in the tree.
    await stageIntoRoot(
      root,
      async (staging) => {
        if (o.kernel_tree) version = await installFromTree(o.kernel_tree, staging, ctx);
        else {
          for (const d of ['lib', 'lib/modules']) await mkdir(join(staging, d)).then(() => chmod(join(staging, d), 0o755));
          await ctx.exec('cp', ['-a', '--no-preserve=ownership', '-T', join(o.from, version), join(staging, 'lib/modules', version)]);
        }
        if (!existsSync(join(staging, 'lib/modules', version, 'modules.dep'))) await ctx.exec('depmod', ['-b', staging, version]);
      },
      { step: 'modules' },
    );
    ctx.facts.kernelVersion = version;
  },
};
