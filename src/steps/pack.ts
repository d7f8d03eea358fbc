/**
 * `pack`: write the image from a directory-first rootfs with `mkfs.ext4 -d`
 * (ext2/3/4): no loop device, no mount. Use it after a `directory` step and
 * the steps that fill the tree; it creates the sparse image itself and checks
 * the result with `e2fsck -fn`. `fs: tar`, `tar.zst` or `squashfs` write an
 * archive or a squashfs image (what OpenWRT's UML target uses) instead; the
 * output is then named `<output>.tar`, `.tar.zst` or `.squashfs`.
 *
 * ```yaml
 * - step: directory          # a temporary tree (tmpfs: true puts it in /dev/shm)
 * - step: debootstrap
 *   suite: bookworm
 * # ... password, template, modules ...
 * - step: pack
 *   size: 2G
 *   fs: ext4
 *   label: rootfs
 * ```
 */
import { stopProcessesIn } from '../host/procs.js';
import { z } from 'zod';
import { parseSize } from '../model/size.js';
import { createSparseImage } from './sparse-disk.js';
import { inodeTimeCommands, usedInodes } from '../host/e2fs.js';
import { noSyncEnv } from '../host/no-sync.js';
import type { Step } from './types.js';

const schema = z
  .object({
    size: z
      .union([z.string(), z.number()])
      .refine((v) => {
        try {
          return parseSize(v) >= 8 * 2 ** 20;
        } catch {
          return false;
        }
      }, 'a size of at least 8M, such as 2G')
      .optional(),
    fs: z.enum(['ext2', 'ext3', 'ext4', 'tar', 'tar.zst', 'squashfs']).default('ext4'),
    label: z.string().max(16).optional(),
    uuid: z
      .string()
      .regex(/^[0-9a-fA-F-]{36}$/, 'not a UUID')
      .optional(),
    discard: z.boolean().default(false),
  })
  .strict()
  .refine((o) => !o.fs.startsWith('ext') || o.size !== undefined, { message: 'an ext image needs a size, such as 2G', path: ['size'] });

type Options = z.infer<typeof schema>;

/** GNU tar options for the same archive from the same tree: sorted, clamped, no atime/ctime. */
function reproducibleTar(epoch: number): string[] {
  return ['--sort=name', `--mtime=@${epoch}`, '--clamp-mtime', '--format=posix', '--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime'];
}

export const pack: Step<Options> = {
  kind: 'pack',
  summary: 'write the image from the directory tree with mkfs.ext4 -d (no loop device, no mount)',
  schema,
  traits: {
    requires: ['root'],
    releases: ['root'],
    provides: ['image'],
    leavesEdits: true,
    output: (o) => ({ fs: o.fs, extension: o.fs === 'tar' ? '.tar' : o.fs === 'tar.zst' ? '.tar.zst' : o.fs === 'squashfs' ? '.squashfs' : '.img' }),
    size: (o) => o.size,
  },
  title: (o) => (o.fs.startsWith('ext') ? `Pack the tree into a ${o.size} ${o.fs} image` : `Pack the tree into ${o.fs}`),
  async verify(o, ctx) {
    if (o.fs === 'squashfs') await ctx.requireTool('mksquashfs');
    else if (o.fs.startsWith('tar')) await ctx.requireTool(o.fs === 'tar.zst' ? 'zstd' : 'tar');
    else {
      await ctx.requireTool(`mkfs.${o.fs}`);
      await ctx.requireTool('e2fsck');
    }
  },
  async run(o, ctx) {
    const root = ctx.requireRootfs();
    if (ctx.mounted) throw new Error('pack works on a directory tree: use unmount for a mounted image');
    // Nothing may still write into the tree while it is packed (a host process a `chroot: false` step left).
    await stopProcessesIn(root, ctx.teardown.warn);
    const r = ctx.reproducible;
    const epochEnv: Record<string, string> = r ? { SOURCE_DATE_EPOCH: String(r.epoch), E2FSPROGS_FAKE_TIME: String(r.epoch) } : {};
    if (!o.fs.startsWith('ext')) {
      const argv =
        o.fs === 'squashfs'
          ? ['mksquashfs', root, ctx.image, '-noappend', '-comp', 'zstd', '-quiet', ...(r ? ['-mkfs-time', String(r.epoch)] : [])]
          : ['tar', ...(o.fs === 'tar.zst' ? ['--zstd'] : []), ...(r ? reproducibleTar(r.epoch) : []), '--numeric-owner', '--xattrs', '--xattrs-include=*', '--one-file-system', '-cpf', ctx.image, '-C', root, '.'];
      ctx.imageCreated = true;
      await ctx.exec(argv[0]!, argv.slice(1), { env: epochEnv });
      ctx.facts.fsType = o.fs;
      return;
    }
    await createSparseImage(ctx, parseSize(o.size!));
    // The new image is not fsynced by each e2fsprogs tool (host/no-sync.ts): mkfs alone waited ~0.5 s for it.
    const noSync = await noSyncEnv();
    const uuid = o.uuid ?? r?.uuid;
    const args = ['-F', '-q', '-d', root, ...(o.label ? ['-L', o.label] : []), ...(uuid ? ['-U', uuid] : []), ...(r ? ['-E', `hash_seed=${uuid}`] : [])];
    await ctx.exec(`mkfs.${o.fs}`, [...args, ctx.image], { env: { UNIX_IO_NOZEROOUT: '1', ...epochEnv, ...noSync } });
    if (o.discard) await ctx.exec('tune2fs', ['-o', 'discard', ctx.image], { env: { ...epochEnv, ...noSync } });
    if (r) {
      const { stdout } = await ctx.exec('dumpe2fs', [ctx.image], { onLine: () => undefined });
      const inodes = usedInodes(stdout);
      ctx.log(`setting the times of ${inodes.length} inodes to ${r.epoch} (debugfs)`);
      // The lifetime-writes counter depends on how mkfs happened to write (the tree's order): zero it in every superblock copy.
      const commands = `${inodeTimeCommands(inodes, r.epoch)}ssv kbytes_written 0\nclose -a\n`;
      await ctx.exec('debugfs', ['-w', '-f', '-', ctx.image], { input: commands, env: { ...epochEnv, ...noSync }, onLine: () => undefined });
    }
    await ctx.exec('e2fsck', ['-fn', ctx.image], { env: noSync });
    const { stdout } = await ctx.exec('blkid', ['-p', '-s', 'UUID', '-o', 'value', ctx.image]);
    ctx.facts.fsType = o.fs;
    ctx.facts.fsUuid = stdout.trim() || undefined;
  },
};
