/**
 * Command lines for the two bootstrap backends, built from the same step
 * options. `debootstrap` is the HowTo's tool; `mmdebstrap` is faster, takes
 * several mirrors and hooks, and runs without root in a user namespace.
 */

export type Backend = 'debootstrap' | 'mmdebstrap';

/**
 * `auto` (the default): mmdebstrap when it is installed and can honour the
 * options (about 2.5x faster: it installs with apt in one pass), otherwise
 * debootstrap, the HowTo's tool. The step's title says which one runs.
 */
export function chooseBackend(o: Pick<BootstrapOptions, 'exclude' | 'variant'> & { backend: Backend | 'auto' }, installed: (tool: string) => boolean): Backend {
  if (o.backend !== 'auto') return o.backend;
  if (o.exclude.length || o.variant === 'fakechroot') return 'debootstrap';
  return installed('mmdebstrap') ? 'mmdebstrap' : 'debootstrap';
}

export interface BootstrapOptions {
  suite: string;
  backend: Backend;
  variant?: 'minbase' | 'buildd' | 'fakechroot' | 'default';
  components: string[];
  include: string[];
  exclude: string[];
  arch?: string;
  keyring?: string;
  mirrors: string[];
  hooks: { setup: string[]; extract: string[]; essential: string[]; customize: string[] };
  extra_args: string[];
}

export function debootstrapArgs(o: BootstrapOptions, mirror: string, target: string): string[] {
  const args: string[] = [];
  if (o.variant && o.variant !== 'default') args.push(`--variant=${o.variant}`);
  if (o.components.length) args.push(`--components=${o.components.join(',')}`);
  if (o.include.length) args.push(`--include=${o.include.join(',')}`);
  if (o.exclude.length) args.push(`--exclude=${o.exclude.join(',')}`);
  if (o.arch) args.push(`--arch=${o.arch}`);
  if (o.keyring) args.push(`--keyring=${o.keyring}`);
  return [...args, ...o.extra_args, o.suite, target, mirror];
}

/** mmdebstrap's name for each debootstrap variant. */
const MM_VARIANT = { minbase: 'minbase', buildd: 'buildd', default: 'debootstrap' } as const;

export function mmdebstrapArgs(o: BootstrapOptions, mirror: string, target: string): string[] {
  const args = ['--mode=root', '--format=directory', '--skip=check/empty'];
  if (o.variant && o.variant !== 'fakechroot') args.push(`--variant=${MM_VARIANT[o.variant]}`);
  if (o.components.length) args.push(`--components=${o.components.join(',')}`);
  if (o.include.length) args.push(`--include=${o.include.join(',')}`);
  if (o.arch) args.push(`--architectures=${o.arch}`);
  if (o.keyring) args.push(`--keyring=${o.keyring}`);
  for (const [stage, cmds] of Object.entries(o.hooks)) for (const cmd of cmds) args.push(`--${stage}-hook=${cmd}`);
  return [...args, ...o.extra_args, o.suite, target, mirror, ...o.mirrors];
}

/** Options that one backend cannot honour, as [key, reason] pairs. */
export function unsupported(o: BootstrapOptions): [string, string][] {
  const out: [string, string][] = [];
  if (o.backend === 'mmdebstrap') {
    if (o.exclude.length) out.push(['exclude', 'mmdebstrap has no --exclude (use variant: minbase and include)']);
    if (o.variant === 'fakechroot') out.push(['variant', 'fakechroot is a debootstrap variant; mmdebstrap has --mode=fakechroot instead']);
  } else {
    if (o.mirrors.length) out.push(['mirrors', 'only mmdebstrap takes several mirrors (backend: mmdebstrap)']);
    for (const [stage, cmds] of Object.entries(o.hooks)) if (cmds.length) out.push([`hooks.${stage}`, 'only mmdebstrap runs hooks (backend: mmdebstrap)']);
  }
  return out;
}
