/**
 * `umlbuild verify-cow` and `umlbuild merge`: the life of COW children.
 *
 * A COW file records its backing file's mtime and size; UML refuses to boot it
 * ("mtime mismatch") once the base changes. verify-cow reports broken children
 * and, with --fix-mtime, restores the base's mtime when its content still has
 * the checksum its manifest recorded. merge wraps uml_moo (whose `-d` must come
 * before the file arguments) and refuses an in-place merge while the base has
 * other children.
 */
import { existsSync, statSync } from 'node:fs';
import { readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { EXIT, UserError } from '../errors.js';
import { exec } from '../host/exec.js';
import { imageSizes, sha256File } from '../output/manifest.js';
import { checkCow, cowChildren } from './cow.js';

async function listCows(targets: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const t of targets) {
    if (!existsSync(t)) throw new UserError(`${t} does not exist`, EXIT.invalid);
    if (statSync(t).isDirectory()) {
      for (const f of (await readdir(t)).sort()) if (f.endsWith('.cow') && !f.startsWith('.')) out.push(join(t, f));
    } else out.push(resolve(t));
  }
  return out;
}

/** The manifest that describes `image` (a *.manifest.json beside it naming it). */
async function manifestFor(image: string): Promise<{ file: string; data: { image?: { file?: string; sha256?: string } } } | undefined> {
  const dir = dirname(image);
  for (const f of await readdir(dir)) {
    if (!f.endsWith('.manifest.json')) continue;
    const data = JSON.parse(await readFile(join(dir, f), 'utf8')) as { kind?: string; image?: { file?: string; sha256?: string } };
    if (!data.kind && data.image?.file === basename(image)) return { file: join(dir, f), data };
  }
  return undefined;
}

export async function verifyCows(targets: string[], fixMtime: boolean, log: (l: string) => void): Promise<boolean> {
  const cows = await listCows(targets);
  if (!cows.length) throw new UserError(`no COW files in ${targets.join(', ')}`, EXIT.invalid);
  let ok = true;
  for (const cow of cows) {
    let r = await checkCow(cow);
    if (!r.ok && fixMtime && r.header && /^mtime mismatch/.test(r.problem ?? '')) {
      const base = r.header.backingFile;
      const m = await manifestFor(base);
      if (!m?.data.image?.sha256) log(`${cow}: cannot restore: no manifest with a checksum for ${base}`);
      else if ((await sha256File(base)) !== m.data.image.sha256) log(`${cow}: cannot restore: ${base} no longer has the content its manifest recorded; its children are lost`);
      else {
        const t = new Date(r.header.mtime * 1000);
        await utimes(base, t, t);
        log(`${base}: content matches ${basename(m.file)}; restored its mtime to ${t.toISOString()}`);
        r = await checkCow(cow);
      }
    }
    log(`${r.ok ? 'ok    ' : 'BROKEN'} ${cow}${r.ok ? ` (over ${r.header!.backingFile})` : `: ${r.problem}`}`);
    ok &&= r.ok;
  }
  return ok;
}

export async function mergeCow(cowPath: string, newBase: string | undefined, inPlace: boolean, log: (l: string) => void): Promise<string> {
  const cow = resolve(cowPath);
  const check = await checkCow(cow);
  if (!check.ok) throw new UserError(`cannot merge ${cow}: ${check.problem}`);
  const base = check.header!.backingFile;
  if (inPlace) {
    if (newBase) throw new UserError('give either NEW_BASE or --in-place, not both', EXIT.invalid);
    const others = (await cowChildren(base, dirname(cow))).filter((c) => c !== cow);
    if (others.length) {
      throw new UserError(`refusing to merge ${basename(cow)} into ${base} in place: other COW files depend on it (${others.map((o) => basename(o)).join(', ')}) and would break. Merge into a new image instead: umlbuild merge ${cowPath} NEW.img`);
    }
    // uml_moo wants -d before the file arguments (its usage text says otherwise).
    await exec('uml_moo', ['-d', cow], { onLine: log });
    await rm(cow);
    const m = await manifestFor(base);
    if (m) {
      const data = m.data as Record<string, unknown> & { image: Record<string, unknown> };
      data.image = { ...data.image, ...(await imageSizes(base)), sha256: await sha256File(base) };
      await writeFile(m.file, `${JSON.stringify(data, null, 2)}\n`);
    }
    log(`merged ${basename(cow)} into ${base} (and removed the COW file, now part of the base)`);
    return base;
  }
  const target = resolve(newBase ?? cow.replace(/\.cow$/, '') + '.img');
  if (existsSync(target)) throw new UserError(`${target} exists; choose another NEW_BASE`, EXIT.invalid);
  await exec('uml_moo', [cow, target], { onLine: log });
  log(`wrote ${target} = ${basename(base)} + ${basename(cow)}`);
  return target;
}

