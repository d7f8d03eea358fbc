/** `<name>.manifest.json`: what was built, from what, and how long it took. */
import { stat } from 'node:fs/promises';
import { sha256File, sha256Text } from '../host/hashing.js';
import { type Bmap, bmapOf, bmapText, updateBmap } from '../host/bmap.js';
import type { ByteRange } from '../host/e2undo.js';
import { REDACTED, redact } from '../host/secrets.js';
import type { Plan } from '../recipe/load.js';
import type { BuildFacts } from '../model/facts.js';
import { type CowVariantManifest, type ImageManifest, serializeManifest } from '../model/manifest.js';
import { writeReplacing } from '../host/safe-write.js';

export type StepTiming = ImageManifest['steps'][number];

export async function imageSizes(file: string): Promise<{ apparent: number; allocated: number }> {
  const st = await stat(file);
  return { apparent: st.size, allocated: st.blocks * 512 };
}

export function publicVariables(plan: Plan): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(plan.vars)) {
    // A string may hold a registered secret without its variable being one (a proxy URL's credentials).
    out[k] = plan.secretVars.has(k) && v !== '' && v !== undefined ? REDACTED : typeof v === 'string' ? redact(v) : v;
  }
  return out;
}

/**
 * Where the secret variables came from, never their values: `generated`
 * (shown once at the end of the build) or `given` (--set, UMLBUILD_VAR_*).
 * `umlbuild test` reads neither back from the recipe; it asks instead.
 */
export function passwordRecord(plan: Pick<Plan, 'generated' | 'givenSecrets'>): Record<string, 'generated' | 'given'> | undefined {
  const out: Record<string, 'generated' | 'given'> = {};
  for (const k of plan.givenSecrets ?? []) out[k] = 'given';
  for (const k of plan.generated?.keys() ?? []) out[k] = 'generated';
  return Object.keys(out).length ? out : undefined;
}

export interface ManifestInput {
  plan: Plan;
  /** The image to measure; absent for a hostfs root directory. */
  imageFile?: string;
  imageName: string;
  scriptName: string;
  /** The launch script's sha256: `umlbuild boot` runs only the script umlbuild wrote. */
  scriptSha256?: string;
  facts: BuildFacts;
  timings: StepTiming[];
  version: string;
  /** The image's integrity record (imageIntegrity): its block map's name and sha256, or the sha256 of the whole image. */
  integrity?: { sha256?: string; bmap?: { file: string; sha256: string } };
  /** The recipe's own kernel, staged beside the image (runner/outputs stageKernelFiles). */
  kernel?: KernelFiles;
}

/** The kernel files beside the image as the manifest names them. */
export interface KernelFiles {
  file: string;
  sha256: string;
  config: string;
  configSha256: string;
  systemMap?: string;
}

/** The manifest's `kernel` record: the modules' version, and the recipe's own kernel's files when it built one. */
export function kernelRecord(modules: string | undefined, k: KernelFiles | undefined, release: string | undefined): ImageManifest['kernel'] {
  if (!k) return { modules };
  return { modules, file: k.file, release, sha256: k.sha256, config: k.config, config_sha256: k.configSha256, system_map: k.systemMap };
}

/** How the manifest records the image: a block map (default), the sha256 of the whole image, or nothing. */
export type Checksum = 'bmap' | 'sha256' | false;

export interface Integrity {
  /** What was done, for the log: "block map: 400 ranges, 12 hashed". */
  note?: string;
  sha256?: string;
  /** The block map's text (written beside the image) and its sha256 (in the manifest). */
  bmap?: { text: string; sha256: string };
}

/**
 * The integrity record of `image`. A block map (host/bmap) by default: from
 * a fast build's base map and the ranges its edits wrote when there is one
 * (only those pieces are read), else hashing every data block. `sha256`
 * reads the whole image, holes too (~1 s per GiB).
 */
export async function imageIntegrity(image: string, kind: Checksum | true | undefined, fast?: { base?: Bmap; written: ByteRange[] }, imageName?: string): Promise<Integrity> {
  if (kind === false) return {};
  if (kind === 'sha256') return { sha256: await sha256File(image), note: 'sha256 of the whole image' };
  const map = fast?.base ? await updateBmap(image, fast.base, fast.written) : await bmapOf(image);
  const text = bmapText(map, imageName);
  return { bmap: { text, sha256: sha256Text(text) }, note: `block map: ${map.ranges.length} ranges, ${map.hashed ?? map.ranges.length} hashed` };
}

export async function buildManifest(m: ManifestInput): Promise<string> {
  const image: ImageManifest['image'] = m.imageFile
    ? { file: m.imageName, ...(await imageSizes(m.imageFile)), sha256: m.integrity?.sha256, bmap: m.integrity?.bmap, fs: m.facts.fsType, uuid: m.facts.fsUuid }
    : { file: m.imageName, kind: 'hostfs', owner: m.plan.owner };
  const manifest: ImageManifest = {
    umlbuild: m.version,
    created: new Date().toISOString(),
    recipe: { name: m.plan.name, file: m.plan.file, description: m.plan.description },
    variables: publicVariables(m.plan),
    passwords: passwordRecord(m.plan),
    image,
    umid: m.plan.umid,
    launch: { script: m.scriptName, script_sha256: m.scriptSha256, ...m.plan.launch },
    test: { ...m.plan.test, password: undefined },
    bootstrap: m.facts.suite ? { suite: m.facts.suite, mirror: m.facts.mirror } : undefined,
    kernel: kernelRecord(m.facts.kernelVersion, m.kernel, m.facts.kernel?.release),
    packages: m.facts.packages ?? [],
    steps: m.timings,
  };
  return serializeManifest(manifest);
}

/** Write a manifest (model/manifest's writer) atomically, replacing one that is there. */
export async function writeManifest(file: string, m: ImageManifest | CowVariantManifest): Promise<void> {
  await writeReplacing(file, serializeManifest(m));
}
