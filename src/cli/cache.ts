/** `umlbuild cache ls|prune`: the bootstrap cache and the base images of warm builds. */
import type { Command } from 'commander';
import { ENV, withDetails } from './help.js';
import { out, warn } from './options.js';

const cacheOption = '--cache-dir <dir>';
const cacheHelp = 'the cache (default: $XDG_CACHE_HOME/umlbuild, else ~/.cache/umlbuild)';

export function cacheCli(p: Command): void {
  const cache = p.command('cache').description('the bootstrap cache, the base images of warm builds and built kernels: ls, prune');
  withDetails(cache, { examples: [['umlbuild cache ls'], ['umlbuild cache prune --cache-dir /var/cache/umlbuild']] });
  const ls = cache
    .command('ls')
    .description('list cache entries: bootstraps, base images of warm builds, kernels')
    .option(cacheOption, cacheHelp)
    .action(async (o: { cacheDir?: string }) => {
      const { cacheList } = await import('../api/commands.js');
      const c = await cacheList(o.cacheDir);
      const lines = [
        ...c.bootstraps.map((e) => `${e.key}  ${(e.bytes / 2 ** 20).toFixed(0).padStart(5)} MiB  ${e.created}  ${e.fields.suite}/${e.fields.variant ?? 'default'} ${e.fields.arch} ${e.fields.mirror}`),
        ...c.bases.map((e) => `${e.key}  ${(e.bytes / 2 ** 20).toFixed(0).padStart(5)} MiB  ${e.created}  base image (${(e.fields.steps as [string][]).map(([k]) => k).join(', ')})`),
        ...c.kernels.map((e) => `${e.key}  ${(e.bytes / 2 ** 20).toFixed(0).padStart(5)} MiB  ${e.created}  kernel ${e.release} (${String(e.fields.source).split(' ').slice(0, 3).join(' ')})`),
      ];
      out(lines.length ? lines.join('\n') : `no entries in ${c.bootstrapDir}`);
    });
  withDetails(ls, { examples: [['umlbuild cache ls', 'key, size, date, and what each entry holds']], env: [ENV.cache] });
  const prune = cache
    .command('prune')
    .description('remove every cache entry')
    .option(cacheOption, cacheHelp)
    .action(async (o: { cacheDir?: string }) => {
      const { cachePrune } = await import('../api/commands.js');
      const r = await cachePrune(o.cacheDir, warn);
      out(`removed ${r.bootstraps} bootstrap entries, ${r.bases} base images and ${r.kernels} kernels from ${r.dir}`);
    });
  withDetails(prune, { examples: [['umlbuild cache prune']], env: [ENV.cache] });
}
