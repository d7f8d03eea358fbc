/** `<name>.manifest.json`: what was built, from what, and how long it took. */
import { stat } from 'node:fs/promises';
import { sha256File } from '../host/hashing.js';
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
  /** Hash the image (sha256 reads all of it, holes too: ~1 s per GiB). */
  checksum?: boolean;
}

export async function buildManifest(m: ManifestInput): Promise<string> {
  const image: ImageManifest['image'] = m.imageFile
    ? { file: m.imageName, ...(await imageSizes(m.imageFile)), sha256: m.checksum === false ? undefined : await sha256File(m.imageFile), fs: m.facts.fsType, uuid: m.facts.fsUuid }
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
    kernel: { modules: m.facts.kernelVersion },
    packages: m.facts.packages ?? [],
    steps: m.timings,
  };
  return serializeManifest(manifest);
}

/** Write a manifest (model/manifest's writer) atomically, replacing one that is there. */
export async function writeManifest(file: string, m: ImageManifest | CowVariantManifest): Promise<void> {
  await writeReplacing(file, serializeManifest(m));
}
