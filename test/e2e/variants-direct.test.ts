/**
 * COW variants written directly (runner/variant-direct.ts), for real, as
 * root: recipes/busybox.yml with two variants, built with the CLI in a
 * terminal. busybox could not take variants before (the UML boot that
 * applied them needs GNU tar in the image). Each variant boots with its own
 * hostname (`umlbuild test`), verify-cow and merge accept them, and the base
 * is only read. Hostile: the base swapped for a link to a stand-in victim
 * before and while variants are written.
 */
import assert from 'node:assert/strict';
import { link, lstat, mkdir, readdir, readFile, rename, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { exec } from '../../src/host/exec.js';
import { sha256File } from '../../src/host/hashing.js';
import { loadRecipe } from '../../src/recipe/load.js';
import { createContext } from '../../src/runner/context.js';
import { DirectCows, NotDirect } from '../../src/runner/variant-direct.js';
import { Teardown } from '../../src/host/teardown.js';
import type { PlannedVariant } from '../../src/recipe/variants.js';
import { buildVariant } from '../../src/runner/variants.js';
import { readCowHeader } from '../../src/uml/cow.js';
import { BIN, PROJECT, rejection, tempDir, type TempDir } from '../helpers.js';
import { requireRootWith } from './host-state.js';
import { umlbuildInPty } from './pty.js';

const PASSWORD = 'direct-pw';
const VARIANTS = ['web1', 'web2'];

describe('COW variants written directly, without a UML boot', function () {
  this.timeout(5 * 60 * 1000);
  let dir: TempDir;
  let out: string;
  let image: string;
  let recipe: string;
  let build: { exitCode: number; output: string };
  let baseMtime: number;

  before(async function () {
    await requireRootWith(this, 'busybox', 'linux', 'mkfs.ext4', 'debugfs', 'uml_moo');
    dir = await tempDir('umlbuild-direct-', '/var/tmp');
    // What busybox.yml names relative to the recipe that extends it (its shadow template).
    await exec('cp', ['-r', join(PROJECT, 'recipes/busybox'), dir.path]);
    recipe = await dir.write(
      'fleet.yml',
      [
        `extends: ${join(PROJECT, 'recipes/busybox.yml')}`,
        'name: fleet',
        'variant_steps:',
        '  - { step: template, template: hostname }',
        '  - { step: template, template: hosts }',
        'variants:',
        ...VARIANTS.map((v) => `  - { name: ${v}, variables: { hostname: ${v} } }`),
        '',
      ].join('\n'),
    );
    out = join(dir.path, 'out');
    build = await umlbuildInPty(BIN, [recipe, '--out', out, '--set', `root_password=${PASSWORD}`], 4 * 60 * 1000);
    image = join(out, 'busybox.img');
    baseMtime = (await stat(image).catch(() => ({ mtimeMs: 0 }))).mtimeMs;
  });
  after(() => dir?.remove());

  it('the build writes each variant directly and leaves only its outputs', async () => {
    assert.equal(build.exitCode, 0, build.output.slice(-3000));
    for (const v of VARIANTS) assert.match(build.output, new RegExp(`variant ${v}: \\S+${v}\\.cow \\([\\d.]+ MiB allocated, [\\d.]+ s\\), launch: \\S+${v}\\.sh\\r?$`, 'm'));
    assert.doesNotMatch(build.output, /applied by a UML boot/);
    const names = (await readdir(out)).sort();
    assert.deepEqual(names, ['busybox.img', 'busybox.img.bmap', 'busybox.manifest.json', 'busybox.sh', ...VARIANTS.flatMap((v) => [`${v}.cow`, `${v}.manifest.json`, `${v}.sh`])].sort(), 'no copy of the base, undo file or partial left');
    const manifest = JSON.parse(await readFile(join(out, 'busybox.manifest.json'), 'utf8'));
    assert.deepEqual(
      manifest.variants.map((v: { name: string }) => v.name),
      VARIANTS,
    );
    // The base is as its block map (the manifest's integrity record) says: only read. Checked with the standard tool.
    const check = await exec('bmaptool', ['copy', image, '/dev/null'], { reject: false });
    assert.equal(check.exitCode, 0, `the base no longer matches its block map:\n${check.stderr}`);
    for (const v of VARIANTS) {
      const cow = join(out, `${v}.cow`);
      const header = (await readCowHeader(cow))!;
      assert.equal(header.backingFile, image);
      assert.equal(header.mtime, Math.floor(baseMtime / 1000));
      assert.equal(header.size, BigInt((await stat(image)).size));
      assert.ok((await stat(cow)).blocks * 512 < 2 ** 20, `${v}.cow allocates under 1 MiB`);
    }
  });

  it('each variant boots in UML with its own hostname (umlbuild test)', async () => {
    for (const v of VARIANTS) {
      const r = await exec(BIN, ['test', join(out, `${v}.cow`), '--no-network'], { reject: false, env: { UMLBUILD_VAR_ROOT_PASSWORD: PASSWORD } });
      assert.equal(r.exitCode, 0, r.stdout + r.stderr);
      assert.match(r.stdout, new RegExp(`ok {3}hostname: ${v} \\(expected ${v}\\)`));
    }
  });

  it('verify-cow accepts them, and merge makes an image with the variant in it that passes e2fsck', async () => {
    const verify = await exec(BIN, ['verify-cow', out], { reject: false });
    assert.equal(verify.exitCode, 0, verify.stdout + verify.stderr);
    for (const v of VARIANTS) assert.match(verify.stdout, new RegExp(`^ok +\\S+${v}\\.cow \\(over \\S+busybox\\.img\\)`, 'm'));
    const merged = join(dir.path, 'web2-merged.img');
    const r = await exec(BIN, ['merge', join(out, 'web2.cow'), merged], { reject: false });
    assert.equal(r.exitCode, 0, r.stdout + r.stderr);
    assert.equal((await exec('debugfs', ['-R', 'cat /etc/hostname', merged])).stdout.trim(), 'web2');
    assert.match((await exec('debugfs', ['-R', 'cat /etc/hosts', merged])).stdout, /^127\.0\.1\.1\s+web2$/m);
    assert.equal((await exec('e2fsck', ['-fn', merged], { reject: false })).exitCode, 0);
    assert.equal((await stat(image)).mtimeMs, baseMtime, 'the base kept its mtime');
  });

  it('a step that reads the image sees the edits before it; an edit debugfs refuses: NotDirect, no COW, and the copy is the base again for the next variant', async () => {
    const d = join(dir.path, 'refused');
    await mkdir(join(d, 'hl'), { recursive: true });
    await exec('cp', ['-r', join(PROJECT, 'recipes/busybox'), d]);
    const base = join(d, 'busybox.img');
    await exec('cp', ['--sparse=always', '--preserve=timestamps', image, base]);
    await writeFile(join(d, 'passwd.ejs'), 'root:x:0:0:root:/root:/bin/sh\nweb:x:1000:1000::/:/bin/sh\n');
    await writeFile(join(d, 'group.ejs'), 'root:x:0:\nweb:x:1000:\n');
    await writeFile(join(d, 'hl', 'a'), 'a\n');
    await link(join(d, 'hl', 'a'), join(d, 'hl', 'b'));
    const r2 = join(d, 'fleet.yml');
    await writeFile(
      r2,
      [
        `extends: ${join(PROJECT, 'recipes/busybox.yml')}`,
        'name: fleet',
        'variant_steps:',
        '  - { step: template, template: hostname }',
        'variants:',
        '  - name: bad',
        '    variables: { hostname: bad }',
        '    steps:',
        '      - { step: template, template: passwd.ejs, dest: /etc/passwd }',
        '      - { step: template, template: group.ejs, dest: /etc/group }',
        '      - { step: overlay, source: ./hl, dest: /srv, owner: "web:web", allow: [hardlinks] }',
        '  - { name: web2, variables: { hostname: web2 } }',
        '',
      ].join('\n'),
    );
    // Reproducible (times from the epoch), so web2's COW can be compared with one written over an untouched copy of the base.
    const plan = await loadRecipe(r2, { set: { root_password: PASSWORD }, env: { SOURCE_DATE_EPOCH: '1700000000' } });
    const [bad, web2] = plan.variants as [PlannedVariant, PlannedVariant];
    const direct = new DirectCows(base, new AbortController().signal);
    const teardown = new Teardown();
    const logged: string[] = [];
    try {
      const ctx = createContext({ ...plan, vars: bad.vars }, base, teardown, new AbortController().signal);
      ctx.log = (l) => logged.push(l);
      const e = await rejection(direct.write(bad, join(d, 'bad.cow'), ctx));
      assert.ok(e instanceof NotDirect, String(e));
      assert.match(e.message, /^debugfs cannot make its edits: \S+: debugfs here makes no hard links/);
      // The overlay looked up its owner after the templates before it were applied (it would not find web in the base).
      assert.ok(
        logged.some((l) => /copying \d+ entries from \S+hl to \/srv as 1000:1000/.test(l)),
        logged.join('\n'),
      );
      await assert.rejects(lstat(join(d, 'bad.cow')), { code: 'ENOENT' });
      const made = await buildVariant(plan, web2, base, d, () => undefined, new AbortController().signal, undefined, direct);
      assert.equal(made.booted, undefined);
    } finally {
      await teardown.unwind(false);
      await direct.close();
    }
    const alone = join(d, 'alone');
    await mkdir(alone);
    await exec('cp', ['--sparse=always', '--preserve=timestamps', base, join(alone, 'busybox.img')]);
    const fresh = new DirectCows(join(alone, 'busybox.img'), new AbortController().signal);
    try {
      await buildVariant(plan, web2, join(alone, 'busybox.img'), alone, () => undefined, new AbortController().signal, undefined, fresh);
    } finally {
      await fresh.close();
    }
    // Past the header (the base's path): bitmap and sectors the same as over a copy no variant touched before.
    const past = async (f: string) => (await readFile(f)).subarray(8192);
    assert.ok((await past(join(d, 'web2.cow'))).equals(await past(join(alone, 'web2.cow'))), 'web2.cow is the same as one written first');
    const merged = join(d, 'web2-merged.img');
    await exec('uml_moo', [join(d, 'web2.cow'), merged]);
    assert.equal((await exec('debugfs', ['-R', 'cat /etc/hostname', merged])).stdout.trim(), 'web2');
    // The refused variant's edits are not in the next one: its files are the base's, byte for byte.
    const cat = async (img: string, f: string) => (await exec('debugfs', ['-R', `cat ${f}`, img])).stdout;
    for (const f of ['/etc/passwd', '/etc/group']) assert.equal(await cat(merged, f), await cat(image, f), f);
    assert.match((await exec('debugfs', ['-R', 'stat /srv', merged], { reject: false })).stderr, /File not found/);
    assert.equal((await exec('e2fsck', ['-fn', merged], { reject: false })).exitCode, 0);
  });

  describe('hostile: the base image swapped for a link to a stand-in victim', () => {
    /** The engine's variant writer, as the build calls it, over `base` in `outDir`. */
    const variantOver = async (base: string, outDir: string, direct: DirectCows, name = 'web1') => {
      const plan = await loadRecipe(recipe, { set: { root_password: PASSWORD } });
      const v = plan.variants.find((x) => x.name === name)!;
      return buildVariant(plan, v, base, outDir, () => undefined, new AbortController().signal, undefined, direct);
    };
    const victimFile = async (d: string) => {
      const victim = join(d, 'victim.img');
      await exec('cp', ['--sparse=always', image, victim]);
      return { victim, sha: await sha256File(victim), mtime: (await stat(victim)).mtimeMs };
    };

    it('before the variants: refused, and the victim is neither written nor read into a COW', async () => {
      const d = join(dir.path, 'swap-before');
      await exec('mkdir', ['-p', d]);
      const { victim, sha, mtime } = await victimFile(d);
      const base = join(d, 'busybox.img');
      await symlink(victim, base);
      const direct = new DirectCows(base, new AbortController().signal);
      try {
        const e = await rejection(variantOver(base, d, direct));
        assert.match(e.message, /base image \S+busybox\.img is a symbolic link, not a regular file: refused/);
      } finally {
        await direct.close();
      }
      assert.equal(await sha256File(victim), sha);
      assert.equal((await stat(victim)).mtimeMs, mtime);
      assert.deepEqual((await readdir(d)).sort(), ['busybox.img', 'victim.img'], 'no COW, partial or copy left');
    });

    it('between two variants: the second is refused, the victim untouched', async () => {
      const d = join(dir.path, 'swap-between');
      await exec('mkdir', ['-p', d]);
      const base = join(d, 'busybox.img');
      await exec('cp', ['--sparse=always', '--preserve=timestamps', image, base]);
      const { victim, sha, mtime } = await victimFile(d);
      const direct = new DirectCows(base, new AbortController().signal);
      try {
        const first = await variantOver(base, d, direct, 'web1');
        assert.equal(first.booted, undefined, 'written directly');
        await rename(base, join(d, 'moved.img'));
        await symlink(victim, base);
        const e = await rejection(variantOver(base, d, direct, 'web2'));
        assert.match(e.message, /the base image \S+busybox\.img was replaced or changed while its variants were written: refused/);
      } finally {
        await direct.close();
      }
      assert.equal(await sha256File(victim), sha);
      assert.equal((await stat(victim)).mtimeMs, mtime);
      assert.ok((await lstat(base)).isSymbolicLink());
      assert.deepEqual(
        (await readdir(d)).filter((n) => n.startsWith('web2') || n.startsWith('.')),
        [],
        'no COW, partial or copy of the second',
      );
    });
  });
});
