/**
 * What a tree copied into a rootfs (overlay, staged trees) may hold: what
 * could be an attack on the image — setuid/setgid files, device nodes and
 * fifos, hard links — is refused unless the recipe allows it (`allow:
 * [setuid, devices, hardlinks]`); sockets are always refused. The copy
 * itself is edits/host-tree plus the tree applier.
 */
import type { Stats } from 'node:fs';
import { UserError } from '../errors.js';

export type Special = 'setuid' | 'devices' | 'hardlinks';

/** Refuse what the recipe did not allow, with what to add to allow it. */
export function checkSpecial(from: string, st: Stats, allow: readonly Special[] = [], step = 'overlay'): void {
  const refuse = (what: string, kind: Special) => {
    if (!allow.includes(kind)) throw new UserError(`${step}: ${from} ${what}; add "allow: [${kind}]" to the ${step} step to copy it as it is`);
  };
  if (st.isSocket()) throw new UserError(`${step}: ${from} is a socket; ${step} never copies sockets`);
  if (st.isCharacterDevice() || st.isBlockDevice() || st.isFIFO()) refuse('is a device node or fifo', 'devices');
  if (st.mode & 0o6000 && !st.isDirectory()) refuse('is setuid or setgid', 'setuid');
  if (st.isFile() && st.nlink > 1) refuse(`is a hard link (${st.nlink} names)`, 'hardlinks');
}
