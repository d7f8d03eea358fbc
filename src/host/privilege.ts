/** Who this process is: real root, root inside a user namespace (see userns.ts), or an ordinary user. */
import { readFileSync } from 'node:fs';

export type Privilege = 'root' | 'userns-root' | 'user';

/** Real root, root inside a user namespace, or an ordinary user. */
export function privilege(): Privilege {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return 'user';
  const map = readFileSync('/proc/self/uid_map', 'utf8').trim().split(/\s+/);
  return map[0] === '0' && map[1] === '0' && map[2] === '4294967295' ? 'root' : 'userns-root';
}
