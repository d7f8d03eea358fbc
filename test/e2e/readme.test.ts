/**
 * The README is a tested path: the commands of its "Set-up and first build"
 * section, read out of its ```sh blocks (so the two cannot drift apart), run
 * verbatim in a pseudo-terminal as root with the default renderer, in a fresh
 * copy of the checkout; then the boot lines, a login on the console with the
 * password the build line sets, a command, and poweroff.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { exec } from '../../src/host/exec.js';
import { newestSourceMtime } from '../bundle.js';
import { PROJECT, tempDir, type TempDir } from '../helpers.js';
import { loopsFor, requireRootWith } from './host-state.js';
import { ptyRun, runInPty, tail, type PtyRun } from './pty.js';

/** The shell commands of one README section (```sh blocks; comments and blank lines dropped, a `#` comment after a command too). */
function readmeCommands(readme: string, section: string): string[] {
  const start = readme.indexOf(`\n## ${section}\n`);
  if (start < 0) throw new Error(`README.md has no section "## ${section}"`);
  const end = readme.indexOf('\n## ', start + 4);
  const text = readme.slice(start, end < 0 ? undefined : end);
  const commands: string[] = [];
  for (const m of text.matchAll(/^```sh\n([\s\S]*?)^```$/gm)) {
    for (const line of m[1]!.split('\n')) {
      const cmd = line.replace(/\s+#\s.*$/, '').trim();
      if (cmd && !cmd.startsWith('#')) commands.push(cmd);
    }
  }
  return commands;
}

/**
 * sha256 of every byte of a file, holes read as zeros (what `sha256sum FILE` prints), through Node's OpenSSL: on
 * this 2-core test host it hashes the 2 GiB image in 2 s where coreutils' sha256sum takes 22 s.
 */
async function sha256All(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file, { highWaterMark: 8 << 20 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** The processes of a pty's session (its command and everything it started). */
async function sessionProcesses(sid: number): Promise<string[]> {
  const { stdout } = await exec('ps', ['-e', '-o', 'sid=,pid=,args=']);
  return stdout.split('\n').filter((l) => Number(l.trim().split(/\s+/)[0]) === sid);
}

describe('README: set-up, first build, boot and login, verbatim in a terminal', function () {
  this.timeout(30 * 60 * 1000);
  let dir: TempDir;
  let copy: string;
  let commands: string[];
  const runs: PtyRun[] = [];
  let cowIsOurs = false;

  before(async function () {
    await requireRootWith(this, 'debootstrap', 'linux', 'setpriv');
    commands = readmeCommands(await readFile(join(PROJECT, 'README.md'), 'utf8'), 'Set-up and first build');
    dir = await tempDir('umlbuild-readme-');
    copy = join(dir.path, 'umlbuild');
    // A fresh copy of the checkout (tracked files as they are in the working tree): its own npm ci.
    await exec('mkdir', [copy]);
    await exec('sh', ['-c', 'git ls-files -z | tar --null -T - -cf - | tar -C "$1" -xf -', 'sh', copy], { cwd: PROJECT });
  });
  after(async () => {
    for (const r of runs) r.kill();
    if (cowIsOurs) await rm('/tmp/scratch.cow', { force: true });
    await dir?.remove();
  });

  // The environment of a user's shell: bin/umlbuild decides between the bundle and src/ as it does for them (not told to
  // take src/ because the tests measure coverage).
  const userEnv = { NODE_V8_COVERAGE: undefined, UMLBUILD_SRC: undefined, UMLBUILD_DIST: undefined };
  const sh = async (line: string, timeoutMs: number) => {
    const r = await ptyRun('sh', ['-c', line], timeoutMs, { cwd: copy, env: userEnv });
    assert.equal(r.exitCode, 0, `${line}\n${tail(r.output, 40)}`);
    return r.output;
  };

  it('the section names the install, build and boot commands', () => {
    assert.ok(
      commands.some((c) => /^apt-get install -y /.test(c) && /&& npm ci$/.test(c)),
      commands.join('\n'),
    );
    assert.ok(commands.includes('bin/umlbuild recipes/bookworm.yml --out out --set root_password=change-me'), commands.join('\n'));
    assert.ok(commands.includes('UML_NET=none out/bookworm.sh'), commands.join('\n'));
    assert.ok(
      commands.some((c) => c.startsWith('UML_UBD0=/tmp/scratch.cow,out/bookworm.img ')),
      commands.join('\n'),
    );
  });

  it('set-up: the install line (npm ci in the fresh copy)', async () => {
    for (const c of commands.filter((l) => /\b(apt-get|npm ci)\b/.test(l))) await sh(c, 10 * 60 * 1000);
    assert.ok(existsSync(join(copy, 'node_modules/listr2/package.json')), 'npm ci installed the dependencies');
    // npm ci's prepare bundled the command line, and bin/umlbuild runs that bundle: its stamp is src/'s newest mtime.
    assert.ok(existsSync(join(copy, 'dist/bundle/umlbuild.cjs')), 'npm ci made dist/bundle/umlbuild.cjs');
    assert.equal(Number(await readFile(join(copy, 'dist/bundle/stamp'), 'utf8')), await newestSourceMtime(join(copy, 'src')), 'the bundle is current: bin/umlbuild runs it');
  });

  it('first build: the README line, with the default renderer, writes image, script and manifest', async () => {
    const line = commands.find((c) => c.startsWith('bin/umlbuild '))!;
    const out = await sh(line, 15 * 60 * 1000);
    assert.match(out, /built .*out\/bookworm\.img in [\d.]+ s/);
    for (const f of ['bookworm.img', 'bookworm.sh', 'bookworm.manifest.json']) assert.ok(existsSync(join(copy, 'out', f)), f);
    assert.deepEqual(await loopsFor(copy), []);
  });

  // Log in on the console as root with the README's password, run a command, power off.
  const bootAndLogIn = async (line: string) => {
    const r = runInPty('sh', ['-c', line], { cwd: copy, env: userEnv });
    runs.push(r);
    try {
      await r.waitFor(/login: *$/m, 5 * 60 * 1000);
      let at = r.text().length;
      r.type('root\r');
      await r.waitFor(/Password: *$/m, 60_000, at);
      at = r.text().length;
      r.type('change-me\r');
      await r.waitFor(/# *$/m, 120_000, at);
      at = r.text().length;
      r.type('echo "$(hostname) uid=$(id -u)"\r');
      await r.waitFor(/^uml uid=0$/m, 60_000, at);
      r.type('poweroff\r');
      assert.equal(await r.exited(5 * 60 * 1000), 0, tail(r.text()));
    } finally {
      r.kill();
    }
    assert.deepEqual(await sessionProcesses(r.pid), [], 'no linux process of this boot is left');
    return r.text();
  };

  it('boot: the README line as root runs UML as umlbuild-guest, logs in and powers off', async () => {
    const out = await bootAndLogIn(commands.find((c) => c.endsWith(' out/bookworm.sh') && !c.includes('UML_UBD0'))!);
    assert.doesNotMatch(out, /refusing to run UML as root/);
    assert.match(out, /UML runs as umlbuild-guest/);
  });

  it('boot on a COW layer: the README line; the image is only read', async () => {
    assert.equal(existsSync('/tmp/scratch.cow'), false, '/tmp/scratch.cow exists already: the README line would boot on it');
    cowIsOurs = true;
    const image = join(copy, 'out/bookworm.img');
    const before = await sha256All(image);
    await bootAndLogIn(commands.find((c) => c.startsWith('UML_UBD0='))!);
    assert.ok(existsSync('/tmp/scratch.cow'), 'the COW layer was written');
    assert.equal(await sha256All(image), before, 'the image was not written');
  });
});
