/**
 * `umlbuild verify-cow` and `umlbuild merge`: the life of COW children.
 *
 * A COW file records its backing file's mtime and size; UML refuses to boot it
 * ("mtime mismatch") once the base changes. verify-cow reports broken children
 * and, with --fix-mtime, restores the base's mtime when its content still has
 * the checksum its manifest recorded. merge wraps uml_moo (whose `-d` must come
 * before the other arguments) and refuses an in-place merge while the base has
 * other children.
 *
 * The backing path in a COW header is untrusted: nothing is written, created
 * or re-dated before cow-base.ts has checked the base (a regular file, no
 * link, built by umlbuild), and uml_moo gets the checked files by their
 * /proc/PID/fd names, so a name swapped in the meantime changes nothing. The
 * merged image is created new (O_EXCL|O_NOFOLLOW), no more readable than the
 * base and the COW file.
 */
import { existsSync, statSync } from 'node:fs';
import { lstat, readdir, realpath, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { EXIT, UserError } from '../errors.js';
import { exec } from '../host/exec.js';
import { createNewFile, openRegularFile, stillNames, type PinnedFile } from '../host/pinned-file.js';
import { sha256File, sha256Text } from '../host/hashing.js';
import { bmapOf, bmapText } from '../host/bmap.js';
import { partialPath, writeReplacing } from '../host/safe-write.js';
import { manifestText } from '../model/manifest.js';
import { BaseRefused, checkBase, type CheckedBase } from './cow-base.js';
import { baseMismatch, checkCow, cowChildren, parseCowHeader, type CowHeader } from './cow.js';

async function listCows(targets: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const t of targets) {
    if (!existsSync(t)) throw new UserError(`${t} does not exist`, EXIT.invalid);
    if (statSync(t).isDirectory()) {
      for (const f of (await readdir(t)).sort()) if (f.endsWith('.cow') && !f.startsWith('.')) out.push(join(resolve(t), f));
    } else out.push(resolve(t));
  }
  return out;
}

/** Restore the base's mtime to the one `header` expects, if the base checks out; returns what happened. */
async function restoreMtime(cow: string, header: CowHeader): Promise<string> {
  let base: CheckedBase;
  try {
    base = await checkBase(header, cow, false);
  } catch (e) {
    if (e instanceof BaseRefused) return `${cow}: cannot restore: ${e.message}`;
    throw e;
  }
  try {
    const t = new Date(header.mtime * 1000);
    await base.file.fh.utimes(t, t);
    return `${base.name}: content matches ${basename(base.manifest.file)}; restored its mtime to ${t.toISOString()}`;
  } finally {
    await base.file.close();
  }
}

export async function verifyCows(targets: string[], fixMtime: boolean, log: (l: string) => void): Promise<boolean> {
  const cows = await listCows(targets);
  if (!cows.length) throw new UserError(`no COW files in ${targets.join(', ')}`, EXIT.invalid);
  let ok = true;
  for (const cow of cows) {
    let r = await checkCow(cow);
    if (!r.ok && fixMtime && r.header && /^mtime mismatch/.test(r.problem ?? '')) {
      log(await restoreMtime(cow, r.header));
      r = await checkCow(cow);
    }
    log(`${r.ok ? 'ok    ' : 'BROKEN'} ${cow}${r.ok ? ` (over ${r.header!.backingFile})` : `: ${r.problem}`}`);
    ok &&= r.ok;
  }
  return ok;
}

/** The COW file, open, with its header; refused unless it is a regular file holding a COW header. */
async function openCow(cow: string): Promise<{ file: PinnedFile; header: CowHeader }> {
  const file = await openRegularFile(cow, 'COW file');
  const buf = Buffer.alloc(4128);
  await file.fh.read(buf, 0, buf.length, 0);
  const header = parseCowHeader(buf);
  if (header) return { file, header };
  await file.close();
  throw new UserError(`cannot merge ${cow}: not a UML COW file (version 3)`, EXIT.invalid);
}

export async function mergeCow(cowPath: string, newBase: string | undefined, inPlace: boolean, log: (l: string) => void): Promise<string> {
  if (inPlace && newBase) throw new UserError('give either NEW_BASE or --in-place, not both', EXIT.invalid);
  const cow = join(await realDir(resolve(cowPath)), basename(cowPath));
  const target = inPlace ? undefined : resolve(newBase ?? `${cow.replace(/\.cow$/, '')}.img`);
  const { file: cowFile, header } = await openCow(cow);
  const open: PinnedFile[] = [cowFile];
  try {
    const base = await checkBase(header, cow, inPlace);
    open.push(base.file);
    const problem = baseMismatch(header, base.name, base.file.stat);
    if (problem) throw new UserError(`cannot merge ${cow}: ${problem}`);
    if (!target) return await mergeInPlace(cow, cowFile, base, cowPath, log);
    // At most as readable as the base and the COW file, never executable.
    const out = await createNewFile(target, base.file.stat.mode & cowFile.stat.mode & 0o666);
    open.push(out);
    try {
      await exec('uml_moo', ['-b', base.file.path, cowFile.path, out.path], { onLine: log });
    } catch (e) {
      if (await stillNames(target, out)) await rm(target, { force: true });
      throw e;
    }
    log(`wrote ${target} = ${basename(base.name)} + ${basename(cow)}`);
    return target;
  } finally {
    for (const f of open.reverse()) await f.close();
  }
}

async function mergeInPlace(cow: string, cowFile: PinnedFile, base: CheckedBase, cowPath: string, log: (l: string) => void): Promise<string> {
  const others = (await cowChildren(base.name, dirname(cow))).filter((c) => c !== cow);
  if (others.length) {
    throw new UserError(
      `refusing to merge ${basename(cow)} into ${base.name} in place: other COW files depend on it (${others.map((o) => basename(o)).join(', ')}) and would break. Merge into a new image instead: umlbuild merge ${cowPath} NEW.img`,
    );
  }
  // Every check has passed: only now write. uml_moo wants -d first (its usage text says otherwise).
  await exec('uml_moo', ['-d', '-b', base.file.path, cowFile.path], { onLine: log });
  if (await stillNames(cow, cowFile)) await rm(cow);
  const data = base.manifest.data;
  const st = await base.file.fh.stat();
  if (data.image.bmap) {
    // The block map beside it, made again for the merged content (a fresh name renamed over it: never written through a link).
    const text = bmapText(await bmapOf(base.file.path), basename(base.name));
    await writeReplacing(join(dirname(base.name), data.image.bmap.file), text);
    data.image = { ...data.image, apparent: st.size, allocated: st.blocks * 512, bmap: { ...data.image.bmap, sha256: sha256Text(text) } };
  } else data.image = { ...data.image, apparent: st.size, allocated: st.blocks * 512, sha256: await sha256File(base.file.path) };
  if (data.variants) data.variants = data.variants.filter((v) => v.cow !== basename(cow));
  const tmp = partialPath(base.manifest.file);
  const mode = (await lstat(base.manifest.file)).mode & 0o666;
  await writeFile(tmp, manifestText(data), { flag: 'wx', mode });
  await rename(tmp, base.manifest.file);
  log(`merged ${basename(cow)} into ${base.name} (and removed the COW file, now part of the base)`);
  return base.name;
}

async function realDir(file: string): Promise<string> {
  return realpath(dirname(file)).catch(() => {
    throw new UserError(`${file} does not exist`, EXIT.invalid);
  });
}
