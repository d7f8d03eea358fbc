/** `<name>.manifest.json`: what was built, from what, and how long it took. */
import { createHash } from 'node:crypto';
import { open, stat } from 'node:fs/promises';
import { REDACTED } from '../host/secrets.js';
import type { Plan } from '../recipe/load.js';
import type { BuildFacts } from '../steps/types.js';

export interface StepTiming {
  step: string;
  title: string;
  seconds: number;
}

/** sha256 of a file, read into one reused 8 MiB buffer (a stream of fresh chunks is ~4x slower on a 2 GiB image). */
export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(8 << 20);
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (!bytesRead) break;
      hash.update(buf.subarray(0, bytesRead));
    }
  } finally {
    await fh.close();
  }
  return hash.digest('hex');
}

export async function imageSizes(file: string): Promise<{ apparent: number; allocated: number }> {
  const st = await stat(file);
  return { apparent: st.size, allocated: st.blocks * 512 };
}

export function publicVariables(plan: Plan): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(plan.vars)) {
    out[k] = plan.secretVars.has(k) && v !== '' && v !== undefined ? REDACTED : v;
  }
  return out;
}

export interface ManifestInput {
  plan: Plan;
  /** The image to measure; absent for a hostfs root directory. */
  imageFile?: string;
  imageName: string;
  scriptName: string;
  facts: BuildFacts;
  timings: StepTiming[];
  version: string;
  /** Hash the image (sha256 reads all of it, holes too: ~1 s per GiB). */
  checksum?: boolean;
}

export async function buildManifest(m: ManifestInput): Promise<string> {
  const image = m.imageFile
    ? { file: m.imageName, ...(await imageSizes(m.imageFile)), sha256: m.checksum === false ? undefined : await sha256File(m.imageFile), fs: m.facts.fsType, uuid: m.facts.fsUuid }
    : { file: m.imageName, kind: 'hostfs', owner: m.plan.owner };
  const manifest = {
    umlbuild: m.version,
    created: new Date().toISOString(),
    recipe: { name: m.plan.name, file: m.plan.file, description: m.plan.description },
    variables: publicVariables(m.plan),
    image,
    umid: m.plan.umid,
    launch: { script: m.scriptName, ...m.plan.launch },
    test: { ...m.plan.test, password: undefined },
    bootstrap: m.facts.suite ? { suite: m.facts.suite, mirror: m.facts.mirror } : undefined,
    kernel: { modules: m.facts.kernelVersion },
    packages: m.facts.packages ?? [],
    steps: m.timings,
  };
  return `${JSON.stringify(manifest, null, 2)}\n`;
}
