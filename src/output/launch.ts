/** The launch script: the UML command line from the HowTo's "Starting UML". */
import { basename } from 'node:path';
import type { LaunchConfig } from '../recipe/schema.js';
import { renderTemplate, TEMPLATE_DIR } from '../steps/template.js';

export const DEFAULT_CONSOLES = 'con=null con0=null,fd:2 con1=fd:0,fd:1';

/** `vec0:transport=tap,ifname=tap0` (vector) or `eth0=tuntap,tap0` (legacy). */
export function networkSpec(launch: LaunchConfig): string {
  const n = launch.network;
  if (!n || n === 'none') return '';
  const device = n.device ?? 'vec0';
  const opts = Object.entries(n.options ?? {});
  if (device.startsWith('vec')) return `${device}:${[`transport=${n.transport}`, ...opts.map(([k, v]) => `${k}=${v}`)].join(',')}`;
  return `${device}=${[n.transport, ...opts.map(([, v]) => String(v))].join(',')}`;
}

export interface LaunchInput {
  name: string;
  image: string;
  launch: LaunchConfig;
}

export function umidFor(input: LaunchInput): string {
  return input.launch.umid ?? input.name.replace(/[^\w.-]/g, '_');
}

export async function renderLaunchScript(input: LaunchInput): Promise<string> {
  const l = input.launch;
  return renderTemplate(`${TEMPLATE_DIR}launch.sh.ejs`, {
    name: input.name,
    linux: 'linux',
    mem: String(l.mem ?? '256M'),
    umid: umidFor(input),
    imageName: basename(input.image),
    consoles: DEFAULT_CONSOLES,
    net: networkSpec(l),
    args: (l.args ?? []).join(' '),
    root: '/dev/ubda',
  });
}
