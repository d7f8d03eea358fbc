/**
 * Network devices for the UML command line, validated per transport with the
 * options the UML HowTo lists ("Configuring vector transports"). An unknown
 * option, a GRE rx_key without tx_key or an L2TPv3 without sessions is an
 * error at validation time.
 *
 *   vecN:transport=tap,ifname=tap0,depth=128,gro=1
 *   ethN=tuntap,tap0            (legacy; accepted with a deprecation warning)
 */
import { z } from 'zod';
import { lineValue } from '../model/values.js';

const int = z.union([z.number().int(), z.string().regex(/^(0x[0-9a-fA-F]+|\d+)$/, 'must be an integer')]);
const flag = z.union([z.literal(0), z.literal(1), z.boolean().transform((b) => (b ? 1 : 0))]);
const ifname = z.string().regex(/^[\w.:-]{1,15}$/, 'not an interface name');
const host = z.string().regex(/^[\w.:%-]+$/, 'not an address');

/** Common options (all vector transports). */
const common = {
  device: z.string().regex(/^vec\d+$/, 'vector devices are named vecN'),
  depth: int.optional(),
  mac: z
    .string()
    .regex(/^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$/, 'not a MAC address')
    .optional(),
  gro: flag.optional(),
  mtu: int.optional(),
  headroom: int.optional(),
  vec: flag.optional(),
};

const sockets = {
  src: host.optional(),
  dst: host.optional(),
  src_port: int.optional(),
  dst_port: int.optional(),
  srcport: int.optional(),
  dstport: int.optional(),
  v6: flag.optional(),
};

const tap = z.object({ ...common, transport: z.literal('tap'), ifname }).strict();
const hybrid = z.object({ ...common, transport: z.literal('hybrid'), ifname }).strict();
const raw = z.object({ ...common, transport: z.literal('raw'), ifname, bpffile: lineValue.optional(), bpfflash: flag.optional() }).strict();
const gre = z
  .object({
    ...common,
    ...sockets,
    transport: z.literal('gre'),
    dst: host,
    rx_key: int.optional(),
    tx_key: int.optional(),
    sequence: flag.optional(),
    pin_sequence: flag.optional(),
  })
  .strict()
  .refine((o) => (o.rx_key === undefined) === (o.tx_key === undefined), {
    message: 'GRE rx_key and tx_key go together: set both or neither',
    path: ['tx_key'],
  });
const l2tpv3 = z
  .object({
    ...common,
    ...sockets,
    transport: z.literal('l2tpv3'),
    dst: host,
    rx_session: int,
    tx_session: int,
    rx_cookie: int.optional(),
    tx_cookie: int.optional(),
    cookie64: flag.optional(),
    counter: flag.optional(),
    pin_counter: flag.optional(),
    udp: flag.optional(),
  })
  .strict();
const bess = z.object({ ...common, transport: z.literal('bess'), src: lineValue.min(1), dst: lineValue.min(1) }).strict();
const fd = z.object({ ...common, transport: z.literal('fd'), fd: int }).strict();

const LEGACY = ['tuntap', 'daemon', 'socket', 'pcap'] as const;
const legacy = z
  .object({
    device: z.string().regex(/^eth\d+$/, 'legacy devices are named ethN'),
    transport: z.enum(LEGACY),
    /** tuntap: the host tap device (the first positional argument). */
    ifname: ifname.optional(),
    /** The transport's positional arguments, e.g. [tap0] for tuntap. */
    args: z.array(z.union([lineValue, z.number()]).transform(String)).default([]),
  })
  .strict();

const VECTOR = { tap, hybrid, raw, gre, l2tpv3, bess, fd } as const;
export const TRANSPORTS = [...Object.keys(VECTOR), ...LEGACY];

/** Transports whose gro must match the host side's default (on). */
const GRO_DEFAULT_ON = new Set(['tap', 'raw', 'hybrid']);

export const networkSchema = z.unknown().transform((value, ctx) => {
  const t = (value as { transport?: unknown } | null)?.transport;
  const schema = typeof t === 'string' ? ((VECTOR as Record<string, z.ZodType>)[t] ?? (LEGACY.includes(t as never) ? legacy : undefined)) : undefined;
  if (!schema) {
    ctx.addIssue({ code: 'custom', path: ['transport'], message: `transport must be one of ${TRANSPORTS.join(', ')}` });
    return z.NEVER;
  }
  const device = String((value as { device?: unknown }).device ?? '');
  if (/^eth\d+$/.test(device) !== (schema === legacy)) {
    ctx.addIssue({
      code: 'custom',
      path: ['device'],
      message: schema === legacy ? `the legacy ${t} transport needs an ethN device, not "${device}"` : `${device || 'a device'} with the vector transport ${t} must be named vecN (legacy ethN devices take tuntap, daemon, socket or pcap)`,
    });
    return z.NEVER;
  }
  const r = schema.safeParse(value);
  if (!r.success) {
    for (const issue of r.error.issues) ctx.addIssue({ ...issue, path: issue.path } as never);
    return z.NEVER;
  }
  // Keep the recipe's order of options on the command line.
  const data = r.data as Record<string, unknown>;
  const ordered = Object.fromEntries(
    Object.keys(value as object)
      .filter((k) => k in data)
      .map((k) => [k, data[k]]),
  );
  return { ...ordered, ...data, ...ordered } as Network;
});

export type VectorNetwork = { device: string; transport: keyof typeof VECTOR } & Record<string, unknown>;
export type LegacyNetwork = z.infer<typeof legacy>;
export type Network = VectorNetwork | LegacyNetwork;

export function isLegacy(n: Network): n is LegacyNetwork {
  return (LEGACY as readonly string[]).includes(n.transport);
}

/** The command-line argument for one network device. */
export function networkArg(n: Network): string {
  if (isLegacy(n)) return `${n.device}=${[n.transport, ...(n.ifname ? [n.ifname] : []), ...n.args].join(',')}`;
  const opts: Record<string, unknown> = { ...n };
  delete opts.device;
  delete opts.transport;
  if (GRO_DEFAULT_ON.has(n.transport) && opts.gro === undefined) opts.gro = 1;
  const parts = Object.entries(opts)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${v}`);
  return `${n.device}:${[`transport=${n.transport}`, ...parts].join(',')}`;
}

export function networkWarnings(n: Network): string[] {
  const w: string[] = [];
  if (isLegacy(n)) w.push(`${n.device}: the legacy ${n.transport} transport is deprecated; use a vector transport (vecN:transport=tap,...)`);
  if (n.transport === 'raw' && (n as Record<string, unknown>).bpfflash === 1) {
    w.push(`${n.device}: bpfflash=1 lets the guest load BPF code into the host kernel; only for trusted guests`);
  }
  return w;
}

/** What the host must allow for this transport (for the launch script's checks). */
export function privilegeNeeds(n: Network): { cap?: 'net_admin' | 'net_raw'; ifname?: string } {
  const ifname = (n as { ifname?: string }).ifname;
  switch (n.transport) {
    case 'tap':
    case 'tuntap':
      return { ifname };
    case 'hybrid':
      return { cap: 'net_raw', ifname };
    case 'raw':
      return { cap: 'net_raw', ifname };
    case 'gre':
      return { cap: 'net_raw' };
    case 'l2tpv3':
      return (n as { udp?: number }).udp === 1 ? {} : { cap: 'net_raw' };
    default:
      return {};
  }
}
