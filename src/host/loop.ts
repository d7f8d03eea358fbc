/** Loop devices: attach an image, detach it. */
import { exec, type ExecOptions } from './exec.js';

export async function attachLoop(image: string, opts: ExecOptions = {}): Promise<string> {
  const { stdout } = await exec('losetup', ['--find', '--show', image], opts);
  return stdout.trim();
}

export async function detachLoop(device: string, opts: ExecOptions = {}): Promise<void> {
  await exec('losetup', ['--detach', device], opts);
}
