/** The registry of step kinds. Everything outside steps/ finds a step here by the kind a recipe names and then knows it only through its traits (steps/traits.ts, steps/select.ts). */
import { debootstrap } from './debootstrap.js';
import { directory } from './directory.js';
import { mkfs } from './mkfs.js';
import { kernel } from './kernel.js';
import { modules } from './modules.js';
import { mount } from './mount.js';
import { overlay } from './overlay.js';
import { pack } from './pack.js';
import { password } from './password.js';
import { run } from './run.js';
import { sparseDisk } from './sparse-disk.js';
import { template } from './template.js';
import { echo, fail, fakeKernel } from './test-steps.js';
import type { AnyStep } from './types.js';
import { unmount } from './unmount.js';
import { tuneUml } from './tune-uml.js';
import { reproducible } from './reproducible.js';
import { lockdown } from './lockdown.js';
import { rootfsTarball } from './rootfs-tarball.js';
import { rootfsDir } from './rootfs-dir.js';
import { hook } from './hook.js';

export const STEPS: readonly AnyStep[] = [
  sparseDisk,
  mkfs,
  mount,
  directory,
  debootstrap,
  rootfsTarball,
  rootfsDir,
  password,
  template,
  kernel,
  modules,
  overlay,
  run,
  tuneUml,
  hook,
  lockdown,
  reproducible,
  pack,
  unmount,
  echo,
  fail,
  fakeKernel,
];

export function findStep(kind: string): AnyStep | undefined {
  return STEPS.find((s) => s.kind === kind);
}

export function stepKinds(includeHidden = false): string[] {
  return STEPS.filter((s) => includeHidden || !s.hidden).map((s) => s.kind);
}
