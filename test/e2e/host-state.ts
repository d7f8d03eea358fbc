/** What umlbuild may have left on the host: loop devices and mounts. */
import { exec } from '../../src/host/exec.js';
import { findTool, isRoot } from '../../src/host/tools.js';

/** Skip the suite (saying why) unless this is root with the given host tools. */
export async function requireRootWith(ctx: Mocha.Context, ...tools: string[]): Promise<void> {
  const missing = [];
  for (const t of tools) if (!(await findTool(t))) missing.push(t);
  if (!isRoot() || missing.length) {
    console.log(`    (skipped: needs root${missing.length ? ` and ${missing.join(', ')}` : ''}, loop devices and the UML kernel)`);
    ctx.skip();
  }
}

export async function loopsFor(pathPart: string): Promise<string[]> {
  const { stdout } = await exec('losetup', ['--list', '--noheadings', '--output', 'NAME,BACK-FILE']);
  return stdout.split('\n').filter((l) => l.includes(pathPart));
}

export async function umlbuildMounts(): Promise<string[]> {
  const { stdout } = await exec('findmnt', ['--raw', '--noheadings', '--output', 'TARGET']);
  return stdout.split('\n').filter((l) => /umlbuild-/.test(l));
}
