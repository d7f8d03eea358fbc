/**
 * `lockdown`: what `lockdown: true` in a recipe adds to the image (the HowTo's
 * "Security Considerations": load every module at boot, then disable module
 * loading). It writes /etc/sysctl.d/90-umlbuild-lockdown.conf with
 * `kernel.modules_disabled = 1`; systemd-sysctl (or procps at boot) applies
 * it after systemd-modules-load has loaded the boot-time modules, and it
 * cannot be undone until the next boot. The launch side of lockdown — hostfs
 * confined to a path that cannot exist unless a share is declared, no
 * bpfflash — is in the recipe loader.
 */
import { z } from 'zod';
import { file } from '../edits/model.js';
import { runEdits } from './file-edits.js';
import type { Step } from './types.js';

const schema = z.object({}).strict();

export const LOCKDOWN_SYSCTL = '/etc/sysctl.d/90-umlbuild-lockdown.conf';
const TEXT = '# umlbuild lockdown: no module loading once the boot-time modules are loaded\nkernel.modules_disabled = 1\n';

export const lockdown: Step<z.infer<typeof schema>> = {
  kind: 'lockdown',
  summary: 'disable kernel module loading after boot (inserted by lockdown: true)',
  schema,
  traits: { requires: ['root'] },
  hidden: true,
  title: () => 'Lock down: no module loading after boot',
  async verify(_o, ctx) {
    ctx.requireRoot('files in the image belong to root', { userns: true });
  },
  async edits(_o, ctx) {
    ctx.log(`writing ${LOCKDOWN_SYSCTL}`);
    return [file(LOCKDOWN_SYSCTL, TEXT)];
  },
  run: (o, ctx) => runEdits(lockdown, o, ctx),
};
