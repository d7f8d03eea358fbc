/**
 * Where umlbuild keeps its state: the teardown journals (see host/journal.ts).
 * /run/umlbuild as root, else $XDG_RUNTIME_DIR/umlbuild or ~/.cache/umlbuild/run;
 * a rootless build is told its user's place in UMLBUILD_JOURNAL_DIR.
 */
import { homedir } from 'node:os';
import { join } from 'node:path';
import { privilege } from './privilege.js';

export function journalDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.UMLBUILD_JOURNAL_DIR) return env.UMLBUILD_JOURNAL_DIR;
  if (privilege() === 'root') return '/run/umlbuild';
  return env.XDG_RUNTIME_DIR ? join(env.XDG_RUNTIME_DIR, 'umlbuild') : join(env.HOME || homedir(), '.cache', 'umlbuild', 'run');
}
