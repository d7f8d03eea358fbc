/** What umlbuild may have left on the host: loop devices and mounts. */
import { exec } from '../../src/host/exec.js';

export async function loopsFor(pathPart: string): Promise<string[]> {
  const { stdout } = await exec('losetup', ['--list', '--noheadings', '--output', 'NAME,BACK-FILE']);
  return stdout.split('\n').filter((l) => l.includes(pathPart));
}

export async function umlbuildMounts(): Promise<string[]> {
  const { stdout } = await exec('findmnt', ['--raw', '--noheadings', '--output', 'TARGET']);
  return stdout.split('\n').filter((l) => /umlbuild-/.test(l));
}
