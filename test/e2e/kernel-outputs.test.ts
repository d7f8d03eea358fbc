/**
 * The image and its kernel travel together, the way a user gets them:
 * bin/umlbuild builds the busybox recipe with a stand-in for the `kernel`
 * step (the hidden test step `fake-kernel`: a prepared cache entry holding a
 * COPY of the stock UML kernel with bytes appended, so it runs and is not
 * /usr/bin/linux), and writes `busybox.linux`, `.linux.config` and
 * `.System.map` beside the image, named with their checksums in the manifest.
 * `umlbuild test` boots that very file (seen as the UML process's
 * /proc/PID/exe), refuses a swapped one, `--kernel PATH` boots another one
 * and refuses one whose config lacks what the launch needs; the launch script
 * runs the image's kernel; warm builds and `--artifacts` carry the files too.
 * No kernel is compiled.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { appendFile, chmod, copyFile, cp, lstat, mkdir, readdir, readFile, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { exec } from '../../src/host/exec.js';
import { BIN, PROJECT, tempDir, type TempDir } from '../helpers.js';
import { requireRootWith } from './host-state.js';

const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
const PW = 'kernel-e2e-pw';

/** Watch /proc for a process whose executable is `file` (the kernel UML runs) until stopped. */
function watchExe(file: string): { stop(): Promise<boolean> } {
  let seen = false;
  let done = false;
  const loop = (async () => {
    while (!done && !seen) {
      for (const p of await readdir('/proc').catch(() => [])) {
        if (!/^\d+$/.test(p)) continue;
        if ((await readlink(`/proc/${p}/exe`).catch(() => '')) === file) seen = true;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  return {
    stop: async () => {
      done = true;
      await loop;
      return seen;
    },
  };
}

describe("the recipe's own kernel travels with the image (fake-kernel stands in for the kernel step)", function () {
  this.timeout(600_000);
  let dir: TempDir;
  let stockConfig: string;
  const build = (file: string, out: string, extra: string[] = []) => exec(BIN, [file, '--out', out, '--cache-dir', join(dir.path, 'cache'), '--renderer', 'simple', '--set', `root_password=${PW}`, ...extra], { reject: false });
  const test = (target: string, extra: string[] = []) => exec(BIN, ['test', target, '--login', `root:${PW}`, ...extra], { reject: false });

  /** The busybox recipe (its files copied beside it) with a fake-kernel step first, taking `from` as the prepared kernel. */
  async function writeRecipe(name: string, from: string, entry: string, tail = ''): Promise<string> {
    let text = await readFile(join(PROJECT, 'recipes/busybox.yml'), 'utf8');
    text = text.replace(/^# yaml-language-server.*\n/, '').replace('steps:\n', `steps:\n  - step: fake-kernel\n    from: ${from}\n    entry: ${entry}\n    release: 6.1.176\n`);
    const file = join(dir.path, `${name}.yml`);
    await writeFile(file, text + tail);
    return file;
  }

  /** A kernel directory: a copy of the stock kernel with `marker` appended (an ELF still runs), a config, a System.map stand-in. */
  async function kernelDir(name: string, marker: string, config: string): Promise<string> {
    const d = join(dir.path, name);
    await mkdir(d);
    await copyFile('/usr/bin/linux.uml', join(d, 'linux'));
    await appendFile(join(d, 'linux'), marker);
    await writeFile(join(d, 'config'), config);
    await writeFile(join(d, 'System.map'), '0000000060000000 T _stext\n');
    return d;
  }

  before(async function () {
    await requireRootWith(this, 'busybox', 'debugfs', 'linux');
    dir = await tempDir('umlbuild-kout-e2e-', '/var/tmp');
    await cp(join(PROJECT, 'recipes/busybox'), join(dir.path, 'busybox'), { recursive: true });
    stockConfig = (await exec('sh', ['-c', 'zcat /usr/share/doc/user-mode-linux/config.gz'])).stdout;
    await kernelDir('k', 'umlbuild-e2e-own-kernel', `${stockConfig}\n`);
    await writeRecipe('kb', join(dir.path, 'k'), join(dir.path, 'entry'));
  });
  after(() => dir?.remove());

  it('a build writes busybox.linux (0755), .linux.config and .System.map beside the image, the manifest names them with their checksums; a link planted there is replaced, its victim untouched', async () => {
    const out = join(dir.path, 'out');
    await mkdir(out);
    const victim = join(dir.path, 'victim');
    await writeFile(victim, 'stand-in victim');
    await symlink(victim, join(out, 'busybox.linux'));
    await symlink(victim, join(out, 'busybox.linux.config'));
    const r = await build(join(dir.path, 'kb.yml'), out);
    assert.equal(r.exitCode, 0, r.stdout + r.stderr);
    assert.equal(await readFile(victim, 'utf8'), 'stand-in victim');
    const m = JSON.parse(await readFile(join(out, 'busybox.manifest.json'), 'utf8'));
    const linux = await readFile(join(out, 'busybox.linux'));
    assert.deepEqual(m.kernel, {
      modules: '6.1.176',
      file: 'busybox.linux',
      release: '6.1.176',
      sha256: sha(linux),
      config: 'busybox.linux.config',
      config_sha256: sha(await readFile(join(out, 'busybox.linux.config'))),
      system_map: 'busybox.System.map',
    });
    assert.ok(linux.subarray(-23).toString() === 'umlbuild-e2e-own-kernel', 'the prepared copy, not the stock kernel');
    for (const f of ['busybox.linux', 'busybox.linux.config']) assert.ok((await lstat(join(out, f))).isFile(), f);
    assert.equal((await lstat(join(out, 'busybox.linux'))).mode & 0o777, 0o755);
    assert.equal(await readFile(join(out, 'busybox.System.map'), 'utf8'), '0000000060000000 T _stext\n');
    assert.deepEqual(
      (await readdir(out)).filter((f) => f.includes('partial')),
      [],
    );
    const script = await readFile(join(out, 'busybox.sh'), 'utf8');
    assert.match(script, /^UML_LINUX=\$\{UML_LINUX:-"\$here"\/busybox\.linux\}$/m);
  });

  it("umlbuild test boots with the manifest's kernel file (the UML process runs it) and reports it with its release", async () => {
    const out = join(dir.path, 'out');
    const watch = watchExe(join(out, 'busybox.linux'));
    const r = await test(out);
    const seen = await watch.stop();
    assert.equal(r.exitCode, 0, r.stdout + r.stderr);
    assert.match(r.stdout, new RegExp(`kernel ${join(out, 'busybox.linux')} \\(6\\.1\\.176, the image's own; config ${join(out, 'busybox.linux.config')} checked\\)`));
    assert.match(r.stdout, /^PASS: /m);
    assert.ok(seen, "a process ran the image's own busybox.linux");
  });

  it("the launch script runs the image's own kernel beside it (and says so when it is missing)", async () => {
    const out = join(dir.path, 'out');
    // The script runs UML as umlbuild-guest: its COW file in a directory that user may write (the kernel and image it gets opened).
    const cowDir = await tempDir('umlbuild-kout-cow-', '/tmp');
    await chmod(cowDir.path, 0o1777);
    const cow = join(cowDir.path, 'script.cow');
    const env = { UML_NET: 'none', UML_UBD0: `${cow},${join(out, 'busybox.img')}`, UML_ARGS: 'init=/sbin/poweroff -- -f' };
    const watch = watchExe(join(out, 'busybox.linux'));
    const r = await exec('timeout', ['60', 'sh', join(out, 'busybox.sh')], { env, reject: false });
    const seen = await watch.stop();
    assert.equal(r.exitCode, 0, r.stdout + r.stderr);
    assert.match(r.stdout + r.stderr, /reboot: System halted|Power down/);
    assert.ok(seen, 'the script ran busybox.linux');
    // Moved away: the script names the file it looks for instead of running linux from PATH.
    await copyFile(join(out, 'busybox.linux'), join(dir.path, 'linux.keep'));
    await rm(join(out, 'busybox.linux'));
    try {
      const missing = await exec('sh', [join(out, 'busybox.sh')], { env, reject: false });
      assert.equal(missing.exitCode, 1);
      assert.match(missing.stderr, new RegExp(`no UML kernel '${join(out, 'busybox.linux')}' \\(the image's own kernel is missing`));
    } finally {
      await copyFile(join(dir.path, 'linux.keep'), join(out, 'busybox.linux'));
      await cowDir.remove();
    }
  });

  it('a swapped kernel file (other bytes) is refused before anything boots, naming the file; so is a manifest naming ../victim as its kernel', async () => {
    const out = join(dir.path, 'swapped');
    await cp(join(dir.path, 'out'), out, { recursive: true });
    await appendFile(join(out, 'busybox.linux'), 'x');
    const watch = watchExe(join(out, 'busybox.linux'));
    const r = await test(out);
    assert.equal(await watch.stop(), false, 'never ran');
    assert.equal(r.exitCode, 2, r.stdout + r.stderr);
    assert.match(r.stderr, new RegExp(`refusing to boot with ${join(out, 'busybox.linux')}: its sha256 [0-9a-f]{64} is not the one .*busybox\\.manifest\\.json records`));
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    // boot checks it too.
    const b = await exec(BIN, ['boot', out], { reject: false, input: '' });
    assert.equal(b.exitCode, 2, b.stdout + b.stderr);
    assert.match(b.stderr, /refusing to boot with .*busybox\.linux: its sha256/);

    const hostile = join(dir.path, 'hostile');
    await cp(join(dir.path, 'out'), hostile, { recursive: true });
    const victim = join(dir.path, 'victim');
    const mf = join(hostile, 'busybox.manifest.json');
    const m = JSON.parse(await readFile(mf, 'utf8'));
    m.kernel.file = '../victim';
    m.kernel.sha256 = sha(await readFile(victim));
    await writeFile(mf, JSON.stringify(m));
    const h = await test(hostile);
    assert.equal(h.exitCode, 2, h.stdout + h.stderr);
    assert.match(h.stderr, /kernel\.file: must be a file name in the manifest's directory/);
    assert.equal(await readFile(victim, 'utf8'), 'stand-in victim');
  });

  it("test --kernel PATH: refused (exit 2) when PATH.config lacks CONFIG_UML_NET_VECTOR the recipe's vector transport needs, or PATH is a link; else it boots that kernel, config unknown", async () => {
    const other = await kernelDir('other', 'umlbuild-e2e-other-kernel', stockConfig.replace(/^CONFIG_UML_NET_VECTOR=y$/m, '# CONFIG_UML_NET_VECTOR is not set'));
    await copyFile(join(other, 'config'), join(other, 'linux.config'));
    const out = join(dir.path, 'out');
    const r = await test(out, ['--kernel', join(other, 'linux')]);
    assert.equal(r.exitCode, 2, r.stdout + r.stderr);
    assert.match(
      r.stderr,
      new RegExp(
        `refusing to boot with ${join(other, 'linux')}: its config ${join(other, 'linux.config')} lacks .*\\n\\s+CONFIG_UML_NET_VECTOR is not set, but launch\\.networks\\[0\\]\\.transport needs CONFIG_UML_NET_VECTOR=y: vector transport tap \\(vec0\\)`,
      ),
    );
    // A link to a stand-in victim is not followed.
    const link = join(dir.path, 'link-linux');
    await symlink(join(dir.path, 'victim'), link);
    const l = await test(out, ['--kernel', link]);
    assert.equal(l.exitCode, 2, l.stdout + l.stderr);
    assert.match(l.stderr, /symbolic link/);
    // Without a config beside it: booted, and the report says the config was not checked.
    await rm(join(other, 'linux.config'));
    await rm(join(other, 'config'));
    const watch = watchExe(join(other, 'linux'));
    const ok = await test(out, ['--kernel', join(other, 'linux')]);
    const seen = await watch.stop();
    assert.equal(ok.exitCode, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, new RegExp(`kernel ${join(other, 'linux')} \\(--kernel; config unknown: not checked\\)`));
    assert.ok(seen, '--kernel PATH ran');
  });

  it('a warm build writes the kernel files too; --artifacts publishes them in SHA256SUMS; with the kernel cache entry gone the base is rebuilt', async () => {
    const warm = join(dir.path, 'warm');
    const art = join(dir.path, 'art');
    const r = await build(join(dir.path, 'kb.yml'), warm, ['--set', 'hostname=warm', '--artifacts', art]);
    assert.equal(r.exitCode, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /cache hit img-[0-9a-f]{32}/);
    const m = JSON.parse(await readFile(join(warm, 'busybox.manifest.json'), 'utf8'));
    assert.equal(m.kernel.sha256, sha(await readFile(join(warm, 'busybox.linux'))));
    assert.equal(m.kernel.system_map, 'busybox.System.map');
    const sums = await readFile(join(art, 'SHA256SUMS'), 'utf8');
    for (const f of ['busybox.linux', 'busybox.linux.config', 'busybox.System.map']) assert.match(sums, new RegExp(`^[0-9a-f]{64}  ${f.replace(/\./g, '\\.')}$`, 'm'), f);
    const check = await exec('sha256sum', ['-c', 'SHA256SUMS'], { cwd: art, reject: false });
    assert.equal(check.exitCode, 0, check.stdout + check.stderr);

    await rm(join(dir.path, 'entry'), { recursive: true });
    const again = join(dir.path, 'again');
    const a = await build(join(dir.path, 'kb.yml'), again);
    assert.equal(a.exitCode, 0, a.stdout + a.stderr);
    assert.doesNotMatch(a.stdout, /cache hit img-/, 'the base is built again');
    assert.match(a.stdout, /made .*entry from/);
    assert.equal(JSON.parse(await readFile(join(again, 'busybox.manifest.json'), 'utf8')).kernel.sha256, sha(await readFile(join(again, 'busybox.linux'))));
  });

  it('a kernel whose config lacks what the launch needs fails the build right after its step (exit 2, the key and the option named); a failed build leaves no kernel files', async () => {
    const bad = await kernelDir('novec', 'umlbuild-e2e-novec', stockConfig.replace(/^CONFIG_UML_NET_VECTOR=y$/m, '# CONFIG_UML_NET_VECTOR is not set'));
    const file = await writeRecipe('novec', bad, join(dir.path, 'novec-entry'));
    const out = join(dir.path, 'novec-out');
    const r = await build(file, out);
    assert.equal(r.exitCode, 2, r.stdout + r.stderr);
    assert.match(r.stderr, /novec\.yml: launch\.networks\[0\]\.transport: CONFIG_UML_NET_VECTOR is not set, but launch\.networks\[0\]\.transport needs CONFIG_UML_NET_VECTOR=y: vector transport tap \(vec0\)/);
    assert.doesNotMatch(r.stdout, /\[2\/\d+\]/, 'no step after the kernel ran');
    assert.deepEqual(existsSync(out) ? await readdir(out) : [], []);
    // An older good build keeps its kernel files when a new one fails later.
    const failing = await writeRecipe('failing', join(dir.path, 'k'), join(dir.path, 'entry'), '  - step: fail\n');
    const keep = join(dir.path, 'out');
    const before = await readFile(join(keep, 'busybox.linux'));
    const f = await build(failing, keep, ['--no-fast']);
    assert.notEqual(f.exitCode, 0);
    assert.deepEqual(await readFile(join(keep, 'busybox.linux')), before);
    assert.deepEqual(
      (await readdir(keep)).filter((n) => n.includes('partial')),
      [],
    );
  });
  it("a COW variant boots with its base image's kernel (its script and manifest name it); a hostfs-root build carries the kernel files too", async () => {
    const file = await writeRecipe('var', join(dir.path, 'k'), join(dir.path, 'entry'), 'variant_steps:\n  - { step: template, template: hostname }\nvariants:\n  - { name: v1, variables: { hostname: v1 } }\n');
    const out = join(dir.path, 'var-out');
    const r = await build(file, out);
    assert.equal(r.exitCode, 0, r.stdout + r.stderr);
    const vm = JSON.parse(await readFile(join(out, 'v1.manifest.json'), 'utf8'));
    assert.equal(vm.kernel.file, 'busybox.linux');
    assert.equal(vm.kernel.sha256, sha(await readFile(join(out, 'busybox.linux'))));
    assert.match(await readFile(join(out, 'v1.sh'), 'utf8'), /^UML_LINUX=\$\{UML_LINUX:-"\$here"\/busybox\.linux\}$/m);
    const watch = watchExe(join(out, 'busybox.linux'));
    const t = await test(join(out, 'v1.cow'));
    const seen = await watch.stop();
    assert.equal(t.exitCode, 0, t.stdout + t.stderr);
    assert.match(t.stdout, /ok {3}hostname: v1/);
    assert.match(t.stdout, /kernel .*\/busybox\.linux \(6\.1\.176, the image's own/);
    assert.ok(seen, "the variant ran its base image's kernel");

    const hostfs = join(dir.path, 'hostfs-out');
    const h = await build(join(dir.path, 'kb.yml'), hostfs, ['--variant', 'hostfs', '--owner', 'nobody']);
    assert.equal(h.exitCode, 0, h.stdout + h.stderr);
    assert.deepEqual((await readdir(hostfs)).sort(), ['busybox.System.map', 'busybox.linux', 'busybox.linux.config', 'busybox.manifest.json', 'busybox.root', 'busybox.sh']);
    assert.equal(JSON.parse(await readFile(join(hostfs, 'busybox.manifest.json'), 'utf8')).kernel.file, 'busybox.linux');
    const ht = await test(join(hostfs, 'busybox.root'));
    assert.equal(ht.exitCode, 0, ht.stdout + ht.stderr);
    assert.match(ht.stdout, /kernel .*hostfs-out\/busybox\.linux \(6\.1\.176, the image's own; config .* checked\)/);
  });
});
