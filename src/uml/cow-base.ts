/**
 * The base image a COW file names, checked before merge or verify-cow touch
 * it. A COW header is untrusted input: its backing path may name any file.
 * So the base must be a regular file (not a link, FIFO or device) in a
 * directory that also holds the umlbuild manifest naming it, with the sha256
 * or the block map (host/bmap: every range's sha256, zeros elsewhere)
 * recorded there; an in-place merge also needs the COW file recorded as a
 * child (a variant) in that manifest. The base is returned open ("pinned"),
 * so what was checked is what gets written.
 */
import { readdir, realpath } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { EXIT, UserError } from '../errors.js';
import { openRegularFile, type PinnedFile } from '../host/pinned-file.js';
import { sha256File, sha256Text } from '../host/hashing.js';
import { parseBmap, verifyBmap } from '../host/bmap.js';
import type { CowHeader } from './cow.js';
import { type BaseManifestData, baseManifestSchema, checkManifestData, manifestObject, parseManifest } from '../model/manifest.js';

/** What merge and verify-cow read from an image's manifest (validated: model/manifest's baseManifestSchema). */
export interface BaseManifest {
  file: string;
  data: BaseManifestData;
  /** The COW files recorded as its variants. */
  children: string[];
}

/** A base that merge or verify-cow will not touch (a malformed manifest is a plain UserError). */
export class BaseRefused extends UserError {
  constructor(message: string) {
    super(message, EXIT.invalid);
    this.name = 'BaseRefused';
  }
}

const MAX_MANIFEST = 16 << 20;

const malformed = (file: string, why: string) => new UserError(`${file}: malformed umlbuild manifest: ${why}`, EXIT.invalid);

/** model/manifest's reader over a manifest file that must be a regular file (not a FIFO, device or link) of sane size. */
async function readManifest(file: string): Promise<Record<string, unknown>> {
  const f = await openRegularFile(file, 'manifest');
  let text: string;
  try {
    if (f.stat.size > MAX_MANIFEST) throw malformed(file, `${f.stat.size} bytes is too large`);
    text = (await f.fh.readFile()).toString('utf8');
  } finally {
    await f.close();
  }
  const r = parseManifest(text, manifestObject);
  if (!r.ok) throw malformed(file, r.issues[0]!.message);
  return r.data;
}

/**
 * The manifest in `dir` that describes the image `name` (a *.manifest.json
 * without `kind` whose image.file is `name`). Any *.manifest.json there that
 * is not a regular file or not a JSON object is a UserError naming it.
 */
export async function manifestFor(dir: string, name: string): Promise<BaseManifest | undefined> {
  for (const f of (await readdir(dir)).sort()) {
    if (!f.endsWith('.manifest.json') || f.startsWith('.')) continue;
    const file = join(dir, f);
    const data = await readManifest(file);
    const image = data.image as { file?: unknown } | undefined;
    if (!data.kind && image && typeof image === 'object' && image.file === name) {
      const r = checkManifestData(data, baseManifestSchema);
      if (!r.ok) throw malformed(file, r.issues[0]!.message);
      // The data as read, now known to have that shape: merge --in-place writes it back in its own key order.
      const m = data as BaseManifestData;
      return { file, data: m, children: (m.variants ?? []).map((v) => v.cow) };
    }
  }
  return undefined;
}

const MAX_BMAP = 64 << 20;

/**
 * Why the image at `image` does not have the content its block map records
 * (`record`: the manifest's image.bmap, the map a regular file in `dir`
 * whose sha256 it gives), or undefined when it has.
 */
export async function bmapProblem(dir: string, record: { file: string; sha256: string }, image: string): Promise<string | undefined> {
  const f = await openRegularFile(join(dir, record.file), 'block map').catch((e: Error) => e);
  if (f instanceof Error) return f.message;
  let text: string;
  try {
    if (f.stat.size > MAX_BMAP) return `its block map ${record.file} is too large`;
    text = (await f.fh.readFile()).toString('utf8');
  } finally {
    await f.close();
  }
  if (sha256Text(text) !== record.sha256) return `its block map ${record.file} is not the one recorded (sha256 differs)`;
  const map = parseBmap(text);
  if (typeof map === 'string') return `${record.file}: ${map}`;
  return verifyBmap(image, map);
}

export interface CheckedBase {
  /** The base image, open; `path` reaches it for uml_moo. */
  file: PinnedFile;
  /** Its name: the real directory plus the name from the COW header. */
  name: string;
  manifest: BaseManifest;
}

/**
 * Resolve the backing file named in `header`: a regular file, not a link (its
 * directory may be reached through links), built by umlbuild (a manifest
 * beside it with a sha256 that still matches). `cow` is the COW file's name,
 * checked against the manifest's children when `inPlace`. Throws UserError;
 * reads only.
 */
export async function checkBase(header: CowHeader, cow: string, inPlace: boolean): Promise<CheckedBase> {
  const named = resolve(header.backingFile);
  const leaf = basename(named);
  if (!leaf || leaf === '.' || leaf === '..') throw new BaseRefused(`the COW file ${cow} names ${header.backingFile} as its backing file, which is not a file: refused`);
  const dir = await realpath(dirname(named)).catch(() => {
    throw new BaseRefused(`the backing file ${named} of ${cow} is missing`);
  });
  const name = join(dir, leaf);
  const file = await openRegularFile(name, `the backing file named in ${cow},`).catch((e: Error) => {
    throw new BaseRefused(e.message);
  });
  try {
    const manifest = await manifestFor(dir, leaf);
    if (!manifest) throw new BaseRefused(`${name}, the backing file named in ${cow}, has no umlbuild manifest beside it: not an image umlbuild built; refused`);
    if (inPlace) {
      const cowDir = await realpath(dirname(resolve(cow)));
      if (cowDir !== dir || !manifest.children.includes(basename(cow))) {
        throw new BaseRefused(`${cow} is not recorded as a COW child of ${name} in ${basename(manifest.file)}: refusing to merge it in place. Merge into a new image instead: umlbuild merge ${cow} NEW.img`);
      }
    }
    const { sha256: expected, bmap } = manifest.data.image;
    if (bmap) {
      const problem = await bmapProblem(dir, bmap, file.path);
      if (problem) throw new BaseRefused(`${name} no longer has the content ${basename(manifest.file)} recorded (${problem}): refused`);
    } else {
      if (!expected) throw new BaseRefused(`${manifest.file} records no sha256 and no block map for ${name}: cannot tell it is the image umlbuild built; refused`);
      if ((await sha256File(file.path)) !== expected) throw new BaseRefused(`${name} no longer has the content ${basename(manifest.file)} recorded (sha256 differs): refused`);
    }
    return { file, name, manifest };
  } catch (e) {
    await file.close();
    throw e;
  }
}
