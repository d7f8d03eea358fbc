/**
 * `mkfs`: make a filesystem on the image file. ext4 by default; ext2, ext3,
 * btrfs and xfs when their tools are installed. For ext* it sets
 * UNIX_IO_NOZEROOUT=1, because UML's block driver mishandles holes that mkfs
 * zeroes out.
 *
 * ```yaml
 * - step: mkfs
 *   fs: ext4            # ext2 | ext3 | ext4 | btrfs | xfs
 *   label: rootfs       # optional
 *   uuid: 2f1c...       # optional, fixed filesystem UUID
 *   options: [-O, ^has_journal]   # optional extra arguments
 *   discard: true       # ext*: default mount option discard (tune2fs -o discard)
 * ```
 */
import { z } from 'zod';
import type { Step } from './types.js';

const FS = ['ext2', 'ext3', 'ext4', 'btrfs', 'xfs'] as const;

const schema = z
  .object({
    fs: z.enum(FS).default('ext4'),
    label: z.string().max(16).optional(),
    uuid: z
      .string()
      .regex(/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/, 'not a UUID')
      .optional(),
    options: z.array(z.string()).default([]),
    /** ext*: mount with discard by default (tune2fs -o discard), so deletes reach the host as TRIM. */
    discard: z.boolean().default(false),
  })
  .strict();

type Options = z.infer<typeof schema>;

export function mkfsArgs(o: Options, image: string): string[] {
  const ext = o.fs.startsWith('ext');
  const args = [ext ? '-F' : '-f', '-q'];
  if (o.label) args.push('-L', o.label);
  if (o.uuid) args.push(ext ? '-U' : o.fs === 'xfs' ? '-m' : '-U', o.fs === 'xfs' ? `uuid=${o.uuid}` : o.uuid);
  return [...args, ...o.options, image];
}

export const mkfs: Step<Options> = {
  kind: 'mkfs',
  summary: 'make a filesystem (ext4, ext2, ext3, btrfs, xfs) on the image',
  schema,
  traits: { requires: ['image'], provides: ['filesystem'], imageOnly: true },
  title: (o) => `Make ${o.fs} filesystem${o.label ? ` "${o.label}"` : ''}`,
  async verify(o, ctx) {
    await ctx.requireTool(`mkfs.${o.fs}`);
  },
  async run(o, ctx) {
    if (!ctx.imageCreated) throw new Error('no image yet: put a sparse-disk step before mkfs');
    const env: Record<string, string> = o.fs.startsWith('ext') ? { UNIX_IO_NOZEROOUT: '1' } : {};
    await ctx.exec(`mkfs.${o.fs}`, mkfsArgs(o, ctx.image), { env });
    if (o.discard && o.fs.startsWith('ext')) await ctx.exec('tune2fs', ['-o', 'discard', ctx.image]);
    ctx.facts.fsType = o.fs;
    if (o.fs.startsWith('ext')) {
      const { stdout } = await ctx.exec('blkid', ['-p', '-s', 'UUID', '-o', 'value', ctx.image]);
      ctx.facts.fsUuid = stdout.trim() || undefined;
    } else if (o.uuid) ctx.facts.fsUuid = o.uuid;
  },
};
