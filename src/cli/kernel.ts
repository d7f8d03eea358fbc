/** `umlbuild kernel`: build a UML kernel from source (or take it from the cache) and write it to a directory. */
import type { Command } from 'commander';
import { ENV, withDetails } from './help.js';
import { out, recipeArg, warn, withInterrupts } from './options.js';

interface KernelFlags {
  source?: string;
  config?: string;
  fragment?: string[];
  set?: string[];
  base: boolean;
  out?: string;
  cacheDir?: string;
  refresh?: boolean;
  quiet?: boolean;
}

const collect = (v: string, prev: string[] = []) => [...prev, v];

async function kernelCommand(recipe: string | undefined, o: KernelFlags) {
  const { kernel } = await import('../api/kernel.js');
  const { describeDropped } = await import('../api/kernel-text.js');
  const r = await withInterrupts((signal) =>
    kernel({
      ...(recipe ? { recipe } : {}),
      source: o.source,
      config: o.config,
      fragments: o.fragment,
      set: o.set,
      noBase: !o.base,
      out: o.out,
      cacheDir: o.cacheDir,
      refresh: o.refresh,
      log: o.quiet ? undefined : (l) => process.stderr.write(`${l}\n`),
      signal,
    }),
  );
  for (const d of r.dropped) warn(describeDropped(d));
  out(`kernel ${r.release}: ${r.cached ? 'from the cache' : 'built'} in ${r.seconds} s`);
  out(`  ${r.dir}`);
  for (const f of r.written) out(`  ${f}`);
}

export function kernelCli(p: Command): void {
  const c = p
    .command('kernel')
    .description('build a UML kernel (ARCH=um) from source, cached, and write linux, linux.config, System.map and lib/modules/<release> to --out')
    .argument('[recipe]', "a recipe with a kernel step: build with that step's options")
    .option('--source <package|dir|file>', 'a Debian package (linux-source-6.1, the default), or a kernel tree or source tarball')
    .option('--config <file>', 'the base config: defconfig (the default) or a config file')
    .option('--fragment <file>', 'a config fragment merged over it (repeatable, in order)', collect)
    .option('--set <CONFIG_X=value>', 'one option merged last (repeatable)', collect)
    .option('--no-base', "without umlbuild's base fragment (vector transports, hostfs, ubd, consoles)")
    .option('--out <dir>', 'write the kernel there (without: only build it into the cache)')
    .option('--cache-dir <dir>', 'the cache (default: $XDG_CACHE_HOME/umlbuild, else ~/.cache/umlbuild)')
    .option('--refresh', 'build even when the cache has this kernel')
    .option('-q, --quiet', "without make's output")
    .action(async (recipe: string | undefined, o: KernelFlags) => kernelCommand(recipe ? await recipeArg(recipe) : undefined, o));
  withDetails(c, {
    examples: [
      ['umlbuild kernel --out out/kernel', 'linux-source-6.1, defconfig + umlbuild.config; a second run takes it from the cache in about a second'],
      ['umlbuild kernel --source ~/src/linux --fragment debug.config --set CONFIG_LOCALVERSION=\'"-dev"\' --out out/kernel', 'your tree, rebuilt incrementally after each change'],
      ['umlbuild kernel recipes/my-kernel.yml --out out/kernel', "the recipe's kernel step"],
    ],
    env: [ENV.cache],
  });
}
