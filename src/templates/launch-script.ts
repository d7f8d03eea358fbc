/**
 * The launch script: the UML command line from the HowTo's "Starting UML".
 * Every interpolated value is quoted with shQuote (launch/line.ts).
 */
import { basename } from 'node:path';
import { renderTemplate, TEMPLATE_DIR } from './render.js';
import { consoleArgs } from '../launch/channels.js';
import { kernelArgs, shQuote, ubdArg } from '../launch/line.js';
import type { LaunchConfig } from '../launch/schema.js';
import { networkArg, privilegeNeeds } from '../launch/transports.js';

export interface ScriptInput {
  name: string;
  image: string;
  umid: string;
  launch: LaunchConfig;
  /** A COW variant: boot `ubd0=COW,IMAGE` (both beside the script). */
  cow?: string;
  /** A hostfs-root build: boot this directory instead of an image. */
  hostfsRoot?: string;
  /** The image's own kernel: a file name beside the script (default: `linux` from PATH). */
  kernel?: string;
}

export async function renderLaunchScript(input: ScriptInput): Promise<string> {
  const l = input.launch;
  // Only devices that need something of the host get a check (an empty `then ... fi` is a shell syntax error: l2tpv3 over UDP needs nothing).
  const needs = l.networks.flatMap((n) => {
    const need = privilegeNeeds(n);
    if (!need.cap && !need.ifname) return [];
    return {
      ...need,
      device: n.device,
      transport: n.transport,
      // Shell words, quoted here: "$user" is the script's own variable.
      create:
        n.transport === 'raw'
          ? shQuote(`ip link add ${need.ifname} type veth peer name ${need.ifname}-host && ip link set ${need.ifname} up`)
          : `${shQuote(`ip tuntap add dev ${need.ifname} mode tap user `)}"$user"${shQuote(` && ip link set ${need.ifname} up (or: tunctl -u `)}"$user"${shQuote(` -t ${need.ifname})`)}`,
    };
  });
  // Every value goes through shQuote (also <%= %>); in comments a newline could start a command, so none is left there.
  const comment = (v: unknown) => shQuote(String(v ?? '')).replace(/[\r\n]/g, ' ');
  return renderTemplate(
    `${TEMPLATE_DIR}launch.sh.ejs`,
    {
      q: (v: unknown) => shQuote(String(v ?? '')),
      c: comment,
      name: input.name,
      scriptName: `${input.cow ? basename(input.cow).replace(/\.cow$/, '') : basename(input.image).replace(/\.img$/, '')}.sh`,
      linux: 'linux',
      linuxDoc: input.kernel ? `${input.kernel} beside this script: the image's own kernel` : 'linux',
      kernelName: input.kernel ?? '',
      mem: String(l.mem),
      umid: input.umid,
      imageName: basename(input.image),
      cowName: input.cow ? basename(input.cow) : '',
      hostfsRoot: input.hostfsRoot ?? '',
      rootArgs: input.hostfsRoot ? 'root=/dev/root rootfstype=hostfs hostfs="$UML_ROOT" rw' : `ubd0${l.disk_flags.join('')}="$UML_UBD0"`,
      fixed: [...l.disks.map((d, i) => ubdArg(i + 1, d.flags, d.file, d.cow, d.read_only)), ...(input.hostfsRoot ? [] : [`root=${l.root}`]), ...(l.hostfs ? [`hostfs=${l.hostfs}`] : [])],
      consoles: consoleArgs(l.consoles).join(' '),
      net: l.networks.map(networkArg).join(' '),
      args: kernelArgs(l, !!input.hostfsRoot).join(' '),
      cpus: l.cpus ?? '',
      tmpdir: l.tmpdir ?? '',
      user: l.user ?? '',
      hostfs: l.hostfs ?? input.hostfsRoot ?? '',
      needs,
    },
    (v) => shQuote(String(v ?? '')),
  );
}
