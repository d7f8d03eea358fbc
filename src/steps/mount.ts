/**
 * `mount`: attach the image to a loop device and mount it on a private
 * temporary directory. Later steps write into that directory (the rootfs).
 * The mount, the loop device and the directory are released at the end of
 * the build, or earlier by an `unmount` step.
 *
 * ```yaml
 * - step: mount
 *   options: [noatime]   # optional mount options
 * ```
 */
import { existsSync } from 'node:fs';
import { rmdir } from 'node:fs/promises';
import { dir } from 'tmp-promise';
import { z } from 'zod';
import { attachLoop, detachLoop } from '../host/loop.js';
import { mount as mountFs, unmount } from '../host/mount.js';
import type { Step } from './types.js';

const schema = z.object({ options: z.array(z.string().regex(/^[\w=,.:-]+$/)).default([]) }).strict();

export const mount: Step<z.infer<typeof schema>> = {
  kind: 'mount',
  summary: 'loop-mount the image; later steps write into it',
  schema,
  traits: { requires: ['image', 'filesystem'], provides: ['root', 'mount'], imageOnly: true },
  title: () => 'Mount image',
  async verify(_o, ctx) {
    ctx.requireRoot('loop devices and mounts need root');
    await ctx.requireTool('losetup');
    await ctx.requireTool('mount');
    if (!existsSync('/dev/loop-control')) ctx.requireHost('loop devices (/dev/loop-control is missing: modprobe loop, or build directory-first with pack)');
  },
  async run(o, ctx) {
    if (!ctx.imageCreated) throw new Error('no image yet: put sparse-disk and mkfs steps before mount');
    if (ctx.mounted) throw new Error('the image is already mounted');
    const tmp = await dir({ prefix: 'umlbuild-root-' });
    const dirEntry = ctx.teardown.defer(`remove mount point ${tmp.path}`, () => rmdir(tmp.path), { resource: { kind: 'tree', path: tmp.path } });
    const device = await attachLoop(ctx.image, { signal: ctx.signal, onCommand: (l) => ctx.log(`$ ${l}`) });
    const loopEntry = ctx.teardown.defer(`detach ${device}`, () => detachLoop(device), { resource: { kind: 'loop', device, file: ctx.image } });
    await mountFs(device, tmp.path, o.options.length ? ['-o', o.options.join(',')] : [], { signal: ctx.signal });
    const mountEntry = ctx.teardown.defer(`unmount ${tmp.path}`, () => unmount(tmp.path, { warn: ctx.teardown.warn }), { resource: { kind: 'mount', path: tmp.path } });
    ctx.rootfs = tmp.path;
    ctx.mounted = {
      dir: tmp.path,
      device,
      release: async () => {
        await mountEntry.release();
        await loopEntry.release();
        await dirEntry.release();
      },
    };
    ctx.log(`${device} mounted on ${tmp.path}`);
  },
};
