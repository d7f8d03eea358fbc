/** `<name>.manifest.json`: what was built, from what, and how long it took. */
import { createHash } from 'node:crypto';
import { open, stat } from 'node:fs/promises';
import { exec } from '../host/exec.js';
import { REDACTED } from '../host/secrets.js';
import type { Plan } from '../recipe/load.js';
import type { BuildFacts } from '../steps/types.js';

export interface StepTiming {
  step: string;
  title: string;
  seconds: number;
}

const CHUNK = 8 << 20;

/**
 * The data ranges of a sparse file ([start, end) in bytes), from its extent
 * map (filefrag -s: synced first, so nothing is delayed); undefined when the
 * map cannot be had (then the whole file is read).
 */
export async function dataRanges(file: string): Promise<[number, number][] | undefined> {
  const r = await exec('filefrag', ['-s', '-e', file], { reject: false });
  const block = Number(/blocks of (\d+) bytes/.exec(r.stdout)?.[1]);
  if (r.exitCode !== 0 || !block) return undefined;
  const ranges: [number, number][] = [];
  for (const m of r.stdout.matchAll(/^\s*\d+:\s+(\d+)\.\.\s*(\d+):/gm)) ranges.push([Number(m[1]) * block, (Number(m[2]) + 1) * block]);
  return ranges.sort((a, b) => a[0] - b[0]);
}

/**
 * sha256 of a file. Holes are hashed as the zeros they read as, without
 * reading them: reading a hole makes the kernel fill page cache with zero
 * pages, which made a 2 GiB image with 390 MB of data take 5.5 s instead of 1.3 s.
 */
export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  const fh = await open(file, 'r');
  try {
    const size = (await fh.stat()).size;
    const buf = Buffer.allocUnsafe(CHUNK);
    const readRange = async (start: number, end: number) => {
      for (let pos = start; pos < end; ) {
        const { bytesRead } = await fh.read(buf, 0, Math.min(CHUNK, end - pos), pos);
        if (!bytesRead) throw new Error(`${file} is shorter than its size`);
        hash.update(buf.subarray(0, bytesRead));
        pos += bytesRead;
      }
    };
    const zeros = (n: number) => {
      const z = Buffer.alloc(Math.min(CHUNK, n));
      for (let left = n; left > 0; left -= z.length) hash.update(left >= z.length ? z : z.subarray(0, left));
    };
    const ranges = (await dataRanges(file)) ?? [[0, size]];
    let pos = 0;
    for (const [s, e] of ranges) {
      const start = Math.max(s, pos);
      const end = Math.min(e, size);
      if (end <= start) continue;
      if (start > pos) zeros(start - pos);
      await readRange(start, end);
      pos = end;
    }
    if (pos < size) zeros(size - pos);
  } finally {
    await fh.close();
  }
  return hash.digest('hex');
}

export function sha256Text(text: string): string {
  return createHash('sha256').update(text).digest('hex');
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
  const image = m.imageFile
    ? { file: m.imageName, ...(await imageSizes(m.imageFile)), sha256: m.checksum === false ? undefined : await sha256File(m.imageFile), fs: m.facts.fsType, uuid: m.facts.fsUuid }
    : { file: m.imageName, kind: 'hostfs', owner: m.plan.owner };
  const manifest = {
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
  return `${JSON.stringify(manifest, null, 2)}\n`;
}
