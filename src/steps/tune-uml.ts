/**
 * `tune-uml`: make a systemd image boot fast under UML. Added automatically
 * before `unmount` by a recipe-level `tune: uml` (the shipped recipes' default;
 * `tune: none` turns it off). Under UML there is no hardware to enumerate and
 * no virtual terminals, so it masks:
 *
 * - systemd-udevd (and its sockets), systemd-udev-trigger, ifupdown-pre
 *   (udevadm settle): ~7 s of coldplug for devices UML created before init ran
 *   (devtmpfs has the nodes; modprobe works without udev);
 * - systemd-fsck-root: waits for dev-ubda.device (~6 s); the image was checked
 *   with e2fsck when it was built, and boots on throw-away COW layers;
 * - e2scrub_reap, e2scrub_all.timer: LVM snapshots UML images do not have;
 * - getty-static: gettys on tty2-6 that the UML console line does not wire;
 * - modprobe@ (configfs, dm_mod, efi_pstore, fuse, loop), kmod-static-nodes and
 *   systemd-tmpfiles-setup-dev(-early): early module loads and static device
 *   nodes for host hardware (devtmpfs has UML's nodes; modprobe works on demand);
 *
 * It gives the console getty a fixed size (the UML console reports none, and
 * systemd would otherwise query the terminal and wait for an answer that a
 * pipe never gives). It keeps the journal in memory (Storage=volatile: no flush to /var/log at
 * boot), makes networking.service (ifupdown) not hold up the login prompt
 * while DHCP waits for a lease: at boot, when /etc/network/interfaces asks for
 * DHCP, ifup goes on in the background; static addresses are still up before
 * the prompt (decided at boot, so a later template may change the file). It also marks /etc and
 * /var as up to date with /usr (the stamps systemd-update-done writes), so
 * ldconfig, journal-catalog-update and friends do not run on every boot of an
 * image that always boots from its pristine state on a COW layer.
 *
 * ```yaml
 * tune: uml          # recipe level
 * # or as a step:
 * - step: tune-uml
 *   mask: [extra.service]   # optional, more units to mask
 * ```
 */
import { existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { z } from 'zod';
import { resolveInRoot, symlinkInRoot } from '../host/rootfs-path.js';
import type { Step } from './types.js';

export const MASKED = [
  'systemd-udev-trigger.service',
  'systemd-udevd.service',
  'systemd-udevd-control.socket',
  'systemd-udevd-kernel.socket',
  'ifupdown-pre.service',
  'systemd-fsck-root.service',
  'e2scrub_reap.service',
  'e2scrub_all.timer',
  'getty-static.service',
  'modprobe@.service',
  'kmod-static-nodes.service',
  'systemd-tmpfiles-setup-dev-early.service',
  'systemd-tmpfiles-setup-dev.service',
];

/** The unit stays active (RemainAfterExit), so a backgrounded ifup keeps running. */
const NETWORKING_DROPIN = `# umlbuild tune-uml: do not hold up boot while DHCP waits for a lease; static addresses are up before login.
[Service]
ExecStart=
ExecStart=/bin/sh -c 'if grep -Eqs "^[[:space:]]*iface[[:space:]]+[^[:space:]]+[[:space:]]+inet6?[[:space:]]+(dhcp|auto)" /etc/network/interfaces; then /sbin/ifup -a --read-environment & else exec /sbin/ifup -a --read-environment; fi'
`;

const schema = z.object({ mask: z.array(z.string().regex(/^[\w@.-]+\.(service|timer|socket|target|mount|path)$/)).default([]) }).strict();

export const tuneUml: Step<z.infer<typeof schema>> = {
  kind: 'tune-uml',
  summary: 'mask units that have no meaning under UML so the image boots fast (systemd)',
  schema,
  traits: { requires: ['root'], leavesEdits: true },
  title: () => 'Tune for UML (fast boot)',
  async verify(_o, ctx) {
    ctx.requireRoot('files in the image belong to root', { userns: true });
  },
  async run(o, ctx) {
    const root = ctx.requireRootfs();
    if (!existsSync(await resolveInRoot(root, '/lib/systemd/systemd'))) {
      ctx.log('no systemd in the image: nothing to tune');
      return;
    }
    for (const unit of [...MASKED, ...o.mask]) {
      await symlinkInRoot(root, `/etc/systemd/system/${unit}`, '/dev/null');
      ctx.log(`masked ${unit}`);
    }
    // A UML console reports no size; systemd would query the terminal (ESC[6n) and wait for an answer.
    await ctx.writeFile('/etc/systemd/system/getty@.service.d/umlbuild-tune.conf', '# umlbuild tune-uml: the UML console has no size to ask for\n[Service]\nTTYRows=24\nTTYColumns=80\n');
    await ctx.writeFile('/etc/systemd/journald.conf.d/umlbuild-tune.conf', '# umlbuild tune-uml: keep the journal in memory\n[Journal]\nStorage=volatile\n');
    // ConditionNeedsUpdate= is true while /usr is newer than these stamps.
    const usr = await stat(await resolveInRoot(root, '/usr'), { bigint: true });
    for (const dir of ['/etc', '/var']) {
      const later = new Date(Number(usr.mtimeNs / 1000000n) + 1000);
      await ctx.writeFile(`${dir}/.updated`, `# written by umlbuild tune-uml (as systemd-update-done would)\nTIMESTAMP_NSEC=${usr.mtimeNs}\n`, { time: later });
    }
    if (existsSync(await resolveInRoot(root, '/lib/systemd/system/networking.service'))) {
      await ctx.writeFile('/etc/systemd/system/networking.service.d/umlbuild-tune.conf', NETWORKING_DROPIN);
      ctx.log('networking.service no longer holds up the login prompt for DHCP (ifup goes on in the background)');
    }
  },
};
