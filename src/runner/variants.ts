/**
 * Build a recipe's variants as UML COW files over its finished image. A
 * variant whose steps are all file edits is written directly, with no boot
 * (runner/variant-direct.ts: debugfs on a private copy of the base, the
 * changed sectors into a COW file of UML's format). Any other one boots UML:
 * its file steps write into an empty staging tree on the host; the tree (as
 * a tar) and the variant's `run` commands reach the guest as read-only disks,
 * and one short UML boot with a probe as init applies them; UML itself writes
 * that COW file. The base image is only read.
 */
import { mkdir, readFile, rename, rm } from 'node:fs/promises';
import { writeReplacing } from '../host/safe-write.js';
import { basename, join } from 'node:path';
import { dir as tmpDir } from 'tmp-promise';
import { UserError } from '../errors.js';
import { exec } from '../host/exec.js';
import { shQuote } from '../launch/line.js';
import { renderLaunchScript } from '../templates/launch-script.js';
import type { Plan } from '../recipe/load.js';
import type { PlannedVariant } from '../recipe/variants.js';
import { bootProbe } from '../uml/probe.js';
import { createContext } from './context.js';
import { imageSizes, type KernelFiles, kernelRecord, passwordRecord, writeManifest } from '../output/manifest.js';
import { type CowVariantManifest, manifestObject, manifestText, parseManifest, type VariantRecord } from '../model/manifest.js';
import { sha256Text } from '../host/hashing.js';
import { partialPath } from './outputs.js';
import { Teardown } from '../host/teardown.js';
import { Journal } from '../host/journal.js';
import { traitsOf } from '../steps/select.js';
import { type DirectCows, NotDirect } from './variant-direct.js';

export interface VariantOutput {
  name: string;
  cow: string;
  script: string;
  manifest: string;
  allocated: number;
  seconds: number;
  /** Why it was made by a UML boot; absent when it was written directly. */
  booted?: string;
}

/** The init script that applies a variant inside the guest. */
export function applyScript(commands: { command: string; env: Record<string, string> }[]): string {
  const lines = [
    'export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    'mount -t proc proc /proc; mount -t sysfs sysfs /sys; mount -t devtmpfs devtmpfs /dev 2>/dev/null',
    'tar -C / --keep-directory-symlink --no-overwrite-dir -xpf /dev/ubdc || { echo "UMLPROBE status=tar-failed"; exit 1; }',
  ];
  commands.forEach((c, i) => {
    const env = Object.entries(c.env)
      .map(([k, v]) => `${k}=${shQuote(v)}`)
      .join(' ');
    lines.push(`env ${env} sh -c ${shQuote(c.command)} || { echo "UMLPROBE status=command-${i}-failed"; exit 1; }`);
  });
  lines.push('sync', 'mount -o remount,ro /', 'echo "UMLPROBE status=applied"');
  return lines.join('\n');
}

/**
 * Variant `v` as `<name>.cow` beside the base: written directly by `direct`
 * (runner/variant-direct.ts) when its steps are all file edits debugfs can
 * make, else by one UML boot (the reason logged and in `booted`).
 */
export async function buildVariant(
  plan: Plan,
  v: PlannedVariant,
  baseImage: string,
  outDir: string,
  log: (l: string) => void,
  signal: AbortSignal,
  onTeardown?: (label: string, error?: unknown) => void,
  direct?: DirectCows,
  /** The base image's own kernel (beside it, in outDir): the variant boots it too. */
  kernel?: { files: KernelFiles; release?: string },
): Promise<VariantOutput> {
  const t0 = Date.now();
  const journal = new Journal();
  const teardown = new Teardown(undefined, journal);
  teardown.onResult = onTeardown;
  const cowFinal = join(outDir, `${v.name}.cow`);
  const cowPartial = partialPath(cowFinal);
  teardown.defer(`remove ${cowPartial}`, () => rm(cowPartial, { force: true }), { onlyOnFailure: true, resource: { kind: 'file', path: cowPartial } });
  let failed = true;
  try {
    const ctx = createContext({ ...plan, vars: v.vars }, baseImage, teardown, signal);
    ctx.imageCreated = true;
    ctx.log = log;
    let booted: string | undefined = 'direct writing is off';
    if (direct) {
      try {
        const r = await direct.write(v, cowPartial, ctx);
        booted = undefined;
        log(`wrote ${basename(cowFinal)} directly (${r.sectors} sectors changed over the base), no UML boot`);
      } catch (e) {
        if (!(e instanceof NotDirect)) throw e;
        booted = e.message;
        await rm(cowPartial, { force: true });
      }
    }
    if (booted) {
      log(`variant ${v.name} is applied by a UML boot: ${booted}`);
      const staging = await tmpDir({ prefix: 'umlbuild-variant-', unsafeCleanup: true });
      teardown.defer(`remove ${staging.path}`, () => staging.cleanup(), { resource: { kind: 'tree', path: staging.path } });
      const tree = join(staging.path, 'tree');
      await mkdir(tree, { mode: 0o755 });
      ctx.rootfs = tree;
      const commands: { command: string; env: Record<string, string> }[] = [];
      for (const ps of v.steps) {
        const o = ps.options as { chroot?: boolean; command?: string; argv?: string[]; script?: string; env?: Record<string, string> };
        if (traitsOf(ps).inVariant === 'guest') {
          if (o.chroot === false || o.script) throw new UserError(`variant ${v.name}: a run step in a variant runs inside the guest: use command or argv`);
          commands.push({ command: o.command ?? o.argv!.map(shQuote).join(' '), env: o.env ?? {} });
        } else await ps.step.run(ps.options, ctx);
      }
      const payload = join(staging.path, 'payload.tar');
      await exec('tar', ['-C', tree, '--numeric-owner', '--owner=0', '--group=0', '-cf', payload, '.']);
      const r = await bootProbe({ image: baseImage, cow: cowPartial, script: applyScript(commands), extraDisks: [payload], mem: '128M', linux: kernel ? join(outDir, kernel.files.file) : undefined });
      if (r.values.status !== 'applied') {
        throw new UserError(`variant ${v.name}: applying its changes in UML failed (${r.values.status ?? 'no report'}); last lines:\n${r.output.trim().split('\n').slice(-15).join('\n')}`);
      }
    }
    const script = await renderLaunchScript({ name: v.name, image: baseImage, umid: v.name, launch: plan.launch, cow: cowFinal, kernel: kernel?.files.file });
    const scriptFile = join(outDir, `${v.name}.sh`);
    const manifestFile = join(outDir, `${v.name}.manifest.json`);
    const sizes = await imageSizes(cowPartial);
    const manifest: CowVariantManifest = {
      kind: 'cow-variant',
      variant: v.name,
      recipe: { name: plan.name, file: plan.file },
      image: { file: basename(baseImage) },
      cow: { file: basename(cowFinal), ...sizes },
      umid: v.name,
      // The base image's password (a variant has no password step of its own): generated or given, never the value.
      passwords: passwordRecord(plan),
      launch: { script: basename(scriptFile), script_sha256: sha256Text(script), ...plan.launch },
      test: { ...plan.test, password: undefined, hostname: (v.vars.hostname as string | undefined) ?? plan.test.hostname },
      ...(kernel ? { kernel: kernelRecord(undefined, kernel.files, kernel.release) } : {}),
    };
    await writeReplacing(scriptFile, script, 0o755);
    await writeManifest(manifestFile, manifest);
    await rename(cowPartial, cowFinal);
    failed = false;
    return { name: v.name, cow: cowFinal, script: scriptFile, manifest: manifestFile, allocated: sizes.allocated, seconds: (Date.now() - t0) / 1000, booted };
  } finally {
    await teardown.unwind(failed);
    journal.close();
  }
}

/** Add the variants to the base image's manifest (written atomically). */
export async function recordVariants(manifestFile: string, variants: VariantOutput[]): Promise<void> {
  const r = parseManifest(await readFile(manifestFile, 'utf8'), manifestObject);
  if (!r.ok) throw new UserError(`${manifestFile}: the manifest this build wrote no longer reads back: ${r.issues[0]!.message}`);
  const list: VariantRecord[] = variants.map((v) => ({ name: v.name, cow: basename(v.cow), script: basename(v.script), allocated: v.allocated, seconds: v.seconds }));
  await writeReplacing(manifestFile, manifestText({ ...r.data, variants: list }));
}
