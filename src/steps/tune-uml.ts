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
 * - systemd-journal-flush (the journal stays in memory, below), systemd-update-utmp
 *   and systemd-update-utmp-runlevel (`who`/`last` get no boot record; logins work),
 *   systemd-random-seed (the seed file of an image booted on throw-away COW layers),
 *   dev-mqueue.mount (POSIX message queues; `keep: [dev-mqueue.mount]` if a program uses them);
 * - the systemd generators with nothing to generate under UML (each one is a
 *   process run before any unit starts): cryptsetup, integritysetup,
 *   veritysetup, gpt-auto, hibernate-resume, system-update, and debug and run
 *   (so `systemd.mask=`, `systemd.wants=`, `systemd.debug_shell` and
 *   `systemd.run=` on the kernel command line have no effect on a tuned image);
 *   sysv when every /etc/init.d script has a native unit, rc-local when there is
 *   no /etc/rc.local (both decided at build time). fstab and getty stay.
 *
 * systemd-modules-load runs only when a modules-load.d file could name a
 * module: when /etc/modules names none at build time, the Debian link
 * /etc/modules-load.d/modules.conf -> ../modules no longer starts it, any
 * other file there still does. systemd-remount-fs is skipped when the kernel
 * command line has `rw` and `rootflags=` (the shipped Debian recipes' launch
 * args `rw rootflags=errors=remount-ro`: the kernel mounts / as fstab says;
 * discard is the filesystem's default mount option), and runs as usual
 * otherwise. systemd-sysctl stays.
 *
 * The console getty runs login directly: agetty sleeps 1 s before its prompt on
 * a line that is not a virtual console, as a UML console is not (`keep:
 * [getty@.service]` keeps agetty; login shows no /etc/issue). It gives the
 * console getty a fixed size (the UML console reports none, and
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
 *   keep: [dev-mqueue.mount] # optional, units or generators this step would mask or change, left alone
 *                            # (also systemd-remount-fs.service, systemd-modules-load.service, getty@.service)
 * ```
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { lstat, readdir, readFile, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
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
  'systemd-journal-flush.service',
  'systemd-update-utmp.service',
  'systemd-update-utmp-runlevel.service',
  'systemd-random-seed.service',
  'dev-mqueue.mount',
];

/** Generators masked in /etc/systemd/system-generators (fstab and getty stay). */
export const MASKED_GENERATORS = [
  'systemd-cryptsetup-generator',
  'systemd-integritysetup-generator',
  'systemd-veritysetup-generator',
  'systemd-gpt-auto-generator',
  'systemd-hibernate-resume-generator',
  'systemd-system-update-generator',
  'systemd-debug-generator',
  'systemd-run-generator',
];
/** Masked only when the image has nothing for them (decided at build time). */
const SYSV_GENERATOR = 'systemd-sysv-generator';
const RC_LOCAL_GENERATOR = 'systemd-rc-local-generator';

/** The kernel mounted / read-write with the options it was given: nothing to remount. Skipped only when both are on the command line. */
const REMOUNT_FS_DROPIN = `# umlbuild tune-uml: with rw and rootflags= on the kernel command line, / is already mounted as fstab says
[Unit]
ConditionKernelCommandLine=|!rw
ConditionKernelCommandLine=|!rootflags
`;

/**
 * systemd-modules-load's own conditions, less /etc/modules-load.d being merely non-empty: Debian's
 * modules.conf there links to /etc/modules, which named no module at build time. Any other file in
 * it still starts the service: one glob per way a name can differ from "modules.conf" (over-matching
 * only starts the service, as before).
 */
function modulesLoadDropin(): string {
  const name = 'modules.conf';
  const globs = [...name].map((c, i) => `${name.slice(0, i)}[!${c}]*`).concat([`${name}?*`]);
  return [
    '# umlbuild tune-uml: /etc/modules named no module when the image was built; any other modules-load.d file still loads',
    '[Unit]',
    'ConditionDirectoryNotEmpty=',
    'ConditionCapability=CAP_SYS_MODULE',
    ...['/lib', '/usr/lib', '/usr/local/lib', '/run'].map((d) => `ConditionDirectoryNotEmpty=|${d}/modules-load.d`),
    ...globs.map((g) => `ConditionPathExistsGlob=|/etc/modules-load.d/${g}`),
    'ConditionKernelCommandLine=|modules-load',
    'ConditionKernelCommandLine=|rd.modules-load',
    '',
  ].join('\n');
}

/** A UML console reports no size; systemd would query the terminal (ESC[6n) and wait for an answer. */
const GETTY_SIZE = '# umlbuild tune-uml: the UML console has no size to ask for\n[Service]\nTTYRows=24\nTTYColumns=80\n';
/**
 * agetty sleeps 1 s before its prompt on any line that is not a virtual console (get_logname: "flush
 * pending input" after a baud rate change), and a UML console is not one (KDGKBMODE fails). login
 * prompts for the name itself (no /etc/issue banner; it gives up after LOGIN_TIMEOUT and systemd
 * starts it again). `keep: [getty@.service]` keeps agetty.
 */
const GETTY_LOGIN = '# umlbuild tune-uml: login prompts at once; agetty would sleep 1 s first on a UML console\nExecStart=\nExecStart=-/bin/login -p\n';

/** What this step writes, for the base image's cache key: a changed tuning is a new base image. */
const TUNING = createHash('sha256')
  .update(JSON.stringify([MASKED, MASKED_GENERATORS, SYSV_GENERATOR, RC_LOCAL_GENERATOR, REMOUNT_FS_DROPIN, modulesLoadDropin(), GETTY_SIZE, GETTY_LOGIN, 3]))
  .digest('hex');

/** Lines of a file that are not blank or comments. */
const entries = (text: string) => text.split('\n').filter((l) => l.trim() && !/^\s*#/.test(l));

/** The unit stays active (RemainAfterExit), so a backgrounded ifup keeps running. */
const NETWORKING_DROPIN = `# umlbuild tune-uml: do not hold up boot while DHCP waits for a lease; static addresses are up before login.
[Service]
ExecStart=
ExecStart=/bin/sh -c 'if grep -Eqs "^[[:space:]]*iface[[:space:]]+[^[:space:]]+[[:space:]]+inet6?[[:space:]]+(dhcp|auto)" /etc/network/interfaces; then /sbin/ifup -a --read-environment & else exec /sbin/ifup -a --read-environment; fi'
`;

const unitName = z.string().regex(/^[\w@.-]+\.(service|timer|socket|target|mount|path)$/);
const schema = z
  .object({
    mask: z.array(unitName).default([]),
    keep: z.array(z.union([unitName, z.string().regex(/^systemd-[\w-]+-generator$/, 'a unit or a generator (systemd-NAME-generator)')])).default([]),
  })
  .strict();

export const tuneUml: Step<z.infer<typeof schema>> = {
  kind: 'tune-uml',
  summary: 'mask units that have no meaning under UML so the image boots fast (systemd)',
  schema,
  traits: { requires: ['root'], leavesEdits: true, cacheInputs: async () => ({ tuning: TUNING }) },
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
    const keep = new Set(o.keep);
    for (const unit of [...MASKED, ...o.mask].filter((u) => !keep.has(u))) {
      await symlinkInRoot(root, `/etc/systemd/system/${unit}`, '/dev/null');
      ctx.log(`masked ${unit}`);
    }
    const inRoot = async (p: string) => resolveInRoot(root, p);
    // A name present in the root (a link to /dev/null counts: hwclock.service is one).
    const present = async (p: string) => !!(await lstat(join(await inRoot(dirname(p)), basename(p))).catch(() => undefined));
    const generators = [...MASKED_GENERATORS];
    // sysv: only when every init script has a native unit of its name (the generator's own rule: foo.sh -> foo.service).
    const scripts = (await readdir(await inRoot('/etc/init.d')).catch(() => [] as string[])).filter((n) => !n.startsWith('.') && n !== 'README' && n !== 'skeleton');
    const lacking: string[] = [];
    for (const n of scripts) {
      const unit = `${n.replace(/\.sh$/, '')}.service`;
      const dirs = ['/etc/systemd/system', '/lib/systemd/system', '/usr/lib/systemd/system'];
      if (!(await Promise.all(dirs.map((d) => present(`${d}/${unit}`)))).some(Boolean)) lacking.push(n);
    }
    if (lacking.length) ctx.log(`kept ${SYSV_GENERATOR}: /etc/init.d/${lacking.join(', ')} without a native unit`);
    else generators.push(SYSV_GENERATOR);
    if (await present('/etc/rc.local')) ctx.log(`kept ${RC_LOCAL_GENERATOR}: there is an /etc/rc.local`);
    else generators.push(RC_LOCAL_GENERATOR);
    for (const g of generators.filter((g) => !keep.has(g))) {
      await symlinkInRoot(root, `/etc/systemd/system-generators/${g}`, '/dev/null');
      ctx.log(`masked generator ${g}`);
    }
    if (!keep.has('systemd-remount-fs.service')) await ctx.writeFile('/etc/systemd/system/systemd-remount-fs.service.d/umlbuild-tune.conf', REMOUNT_FS_DROPIN);
    const modules = await readFile(await inRoot('/etc/modules'), 'utf8').catch(() => '');
    if (entries(modules).length) ctx.log('kept systemd-modules-load as it was: /etc/modules names modules');
    else if (!keep.has('systemd-modules-load.service')) await ctx.writeFile('/etc/systemd/system/systemd-modules-load.service.d/umlbuild-tune.conf', modulesLoadDropin());
    // A UML console reports no size; systemd would query the terminal (ESC[6n) and wait for an answer.
    // login prompts by itself from Debian 12 on; bullseye's (shadow 4.8) prints nothing when no agetty started it.
    const debian = Number.parseInt(await readFile(await inRoot('/etc/debian_version'), 'utf8').catch(() => ''), 10);
    const loginPrompts = !(debian < 12);
    if (!loginPrompts && !keep.has('getty@.service')) ctx.log(`kept agetty on the console: login of Debian ${debian} does not prompt without it`);
    await ctx.writeFile('/etc/systemd/system/getty@.service.d/umlbuild-tune.conf', keep.has('getty@.service') || !loginPrompts ? GETTY_SIZE : `${GETTY_SIZE}${GETTY_LOGIN}`);
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
