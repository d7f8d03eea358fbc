/**
 * `<name>.manifest.json` as data: what a build (kind absent) or a COW variant
 * (kind `cow-variant`) wrote beside its image. One writer: serializeManifest
 * checks a new manifest against the schema of its kind and formats it with
 * manifestText (the one format; adding the variants to a base's manifest and
 * merge --in-place rewrite a manifest they read with it, keeping its other
 * keys). One reader: parseManifest (JSON, then a schema: manifestSchema, the
 * checks any manifest read back must pass; uml/manifest-schema's stricter one
 * that also checks the launch line; baseManifestSchema for merge and
 * verify-cow). Model layer: imports nothing of ours but model/.
 */
import { z } from 'zod';
import { testSchema } from './test-config.js';

/** A file of the output: a plain name in the manifest's directory. */
export const fileName = z
  .string()
  .regex(/^[\w.+@,-]+$/, 'must be a file name in the manifest\'s directory (letters, digits, . + @ , - _; no "/")')
  .refine((n) => n !== '.' && n !== '..', 'must be a file name, not "." or ".."');
/** An absolute host path without "..". */
export const hostPath = z
  .string()
  .regex(/^\/[\w.+@/-]*$/, 'an absolute path')
  .refine((p) => !p.split('/').includes('..'), 'no ".." in the path');
export const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/);

const passwordsRecord = z.record(z.string(), z.enum(['generated', 'given']));
/** The launch section's own keys; the rest is the recipe's launch config (checked by uml/manifest-schema). */
const launchRecord = z.object({ script: fileName, script_sha256: sha256Hex.optional() }).loose();
/** As written: the build does not refuse names a reader will (an output name is any file name). */
const writtenLaunch = z.object({ script: z.string(), script_sha256: sha256Hex.optional() }).loose();
const sizes = { apparent: z.number(), allocated: z.number() };

/**
 * The image's kernel: the modules' version installed in it, and, when the
 * recipe built its own kernel, its files beside the manifest (`<name>.linux`,
 * `<name>.linux.config`, `<name>.System.map`) with their checksums.
 */
const writtenKernel = z.object({
  modules: z.string().optional(),
  file: z.string().optional(),
  release: z.string().optional(),
  sha256: sha256Hex.optional(),
  config: z.string().optional(),
  config_sha256: sha256Hex.optional(),
  system_map: z.string().optional(),
});
/** A kernel release as `uname -r` shows it. */
export const kernelRelease = z.string().regex(/^[\w.+~-]{1,64}$/, 'not a kernel release');
/** The kernel record read back: files are plain names beside the manifest, each with its sha256. */
export const kernelRecord = z
  .object({
    modules: z.string().optional(),
    file: fileName.optional(),
    release: kernelRelease.optional(),
    sha256: sha256Hex.optional(),
    config: fileName.optional(),
    config_sha256: sha256Hex.optional(),
    system_map: fileName.optional(),
  })
  .loose()
  .refine((k) => k.file === undefined || k.sha256 !== undefined, { message: 'kernel.file needs kernel.sha256', path: ['sha256'] })
  .refine((k) => k.config === undefined || k.config_sha256 !== undefined, { message: 'kernel.config needs kernel.config_sha256', path: ['config_sha256'] });

/** A COW variant as the base image's manifest lists it. */
export const variantRecord = z.object({ name: z.string(), cow: z.string(), script: z.string(), allocated: z.number(), seconds: z.number() });

/** What a build writes (output/manifest.ts). */
export const imageManifestSchema = z.object({
  umlbuild: z.string(),
  created: z.string(),
  recipe: z.object({ name: z.string(), file: z.string().optional(), description: z.string().optional() }),
  variables: z.record(z.string(), z.unknown()),
  passwords: passwordsRecord.optional(),
  image: z.union([
    z.object({ file: z.string(), ...sizes, sha256: sha256Hex.optional(), bmap: z.object({ file: z.string(), sha256: sha256Hex }).optional(), fs: z.string().optional(), uuid: z.string().optional() }),
    z.object({ file: z.string(), kind: z.literal('hostfs'), owner: z.string().optional() }),
  ]),
  umid: z.string(),
  launch: writtenLaunch,
  test: z.record(z.string(), z.unknown()),
  bootstrap: z.object({ suite: z.string(), mirror: z.string().optional() }).optional(),
  kernel: writtenKernel,
  packages: z.array(z.object({ name: z.string(), version: z.string() })),
  steps: z.array(z.object({ step: z.string(), title: z.string(), seconds: z.number() })),
  variants: z.array(variantRecord).optional(),
});

/** What a COW variant writes (runner/variants.ts). */
export const cowVariantManifestSchema = z.object({
  kind: z.literal('cow-variant'),
  variant: z.string(),
  recipe: z.object({ name: z.string(), file: z.string().optional() }),
  image: z.object({ file: z.string() }),
  cow: z.object({ file: z.string(), ...sizes }),
  umid: z.string(),
  passwords: passwordsRecord.optional(),
  launch: writtenLaunch,
  test: z.record(z.string(), z.unknown()),
  /** The base image's own kernel, which the variant boots too. */
  kernel: writtenKernel.optional(),
});

export type ImageManifest = z.input<typeof imageManifestSchema>;
export type CowVariantManifest = z.input<typeof cowVariantManifestSchema>;
export type VariantRecord = z.output<typeof variantRecord>;

/**
 * What any manifest read back must hold (it is untrusted input: anyone may
 * have handed it over): every file it names a plain name in its directory,
 * names and ids without path characters.
 */
export const manifestSchema = z
  .object({
    kind: z.literal('cow-variant').optional(),
    variant: z
      .string()
      .regex(/^[\w.+-]+$/)
      .optional(),
    recipe: z
      .object({
        name: z
          .string()
          .regex(/^[\w.+-]+$/)
          .optional(),
        file: hostPath.optional(),
      })
      .loose()
      .optional(),
    image: z.object({ file: fileName, kind: z.literal('hostfs').optional() }).loose(),
    cow: z.object({ file: fileName }).loose().optional(),
    umid: z
      .string()
      .regex(/^[\w.-]{1,64}$/)
      .optional(),
    variables: z.record(z.string(), z.unknown()).default({}),
    passwords: passwordsRecord.default({}),
    launch: launchRecord,
    test: testSchema.default(testSchema.parse({})),
    kernel: kernelRecord.optional(),
  })
  .loose();

export type Manifest = z.output<typeof manifestSchema>;

/** Any manifest: a JSON object (merge and verify-cow look through every *.manifest.json of a directory). */
export const manifestObject = z.record(z.string(), z.unknown(), { error: 'not a JSON object' });

const NOT_SHA = 'image.sha256 is not a sha256 checksum';
const NOT_BMAP = 'image.bmap must be { file: a file name beside it, sha256 }';
const NOT_VARIANTS = 'variants must be a list of { name, cow, ... }';
/**
 * What merge and verify-cow need of the manifest beside a base image: its
 * checksum (the sha256 of the whole image, or of its block map) and its COW children. The rest is kept as it is (merge --in-place
 * writes it back with the new checksum).
 */
export const baseManifestSchema = z
  .object({
    image: z
      .object({
        file: z.string(),
        sha256: z
          .string({ error: NOT_SHA })
          .regex(/^[0-9a-f]{64}$/, NOT_SHA)
          .optional(),
        bmap: z.object({ file: fileName, sha256: sha256Hex }, { error: NOT_BMAP }).optional(),
      })
      .loose(),
    variants: z.array(z.object({ cow: z.string({ error: NOT_VARIANTS }) }, { error: NOT_VARIANTS }).loose(), { error: NOT_VARIANTS }).optional(),
  })
  .loose();

export type BaseManifestData = z.output<typeof baseManifestSchema>;

/** The text of a manifest: JSON, two-space indented, one final newline. */
export function manifestText(data: unknown): string {
  return `${JSON.stringify(data, null, 2)}\n`;
}

/** The writer: check `m` against the schema of its kind (a mistake here is a bug: it throws), then its text. */
export function serializeManifest(m: ImageManifest | CowVariantManifest): string {
  ('kind' in m && m.kind === 'cow-variant' ? cowVariantManifestSchema : imageManifestSchema).parse(m);
  return manifestText(m);
}

export interface ManifestIssue {
  path: string;
  message: string;
}

export type ManifestRead<T> = { ok: true; data: T } | { ok: false; issues: ManifestIssue[] };

/** The reader: parse a manifest's text and check it against `schema` (manifestSchema or a stricter one). */
export function parseManifest<S extends z.ZodType = typeof manifestSchema>(text: string, schema: S = manifestSchema as unknown as S): ManifestRead<z.output<S>> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    return { ok: false, issues: [{ path: '', message: `not JSON: ${(e as Error).message}` }] };
  }
  return checkManifestData(json, schema);
}

/** The reader's second half, for JSON already parsed: check it against `schema`. */
export function checkManifestData<S extends z.ZodType>(json: unknown, schema: S): ManifestRead<z.output<S>> {
  const r = schema.safeParse(json);
  if (r.success) return { ok: true, data: r.data };
  return { ok: false, issues: r.error.issues.map((i) => ({ path: i.path.join('.'), message: i.code === 'unrecognized_keys' ? `unknown key(s) ${i.keys.join(', ')}` : i.message })) };
}

/** A manifest's kind without checking the rest: undefined for an image's (and for text that is no JSON object: reading it fails later, saying why). */
export function manifestKind(text: string): unknown {
  const r = parseManifest(text, z.object({ kind: z.unknown() }).loose());
  return r.ok ? r.data.kind : undefined;
}
