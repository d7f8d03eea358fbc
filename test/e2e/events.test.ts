/**
 * `--log-format ndjson` the way CI runs it (bin/umlbuild, stdout captured):
 * every event of a full build with a COW variant and an after-image hook, of
 * a failed step, a failing variant, a failing after-image hook, a host error
 * and an interrupt matches docs/events.schema.json, and each stream ends with
 * exactly one build-finished or build-failed carrying the exit code.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmod, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { exec } from '../../src/host/exec.js';
import { BIN, PROJECT, tempDir, type TempDir } from '../helpers.js';
import { checkEvents, type Event } from '../support/events.js';
import { requireRootWith } from './host-state.js';
import { leftovers } from './pty.js';

const SECRET = 'events-secret-pw-4711';

describe('events: --log-format ndjson end to end', function () {
  this.timeout(8 * 60 * 1000);
  let dir: TempDir;
  let journal: string;
  const env = () => ({ PATH: process.env.PATH!, UMLBUILD_JOURNAL_DIR: journal });
  const ndjson = (args: string[]) => exec(BIN, [...args, '--log-format', 'ndjson', '--cache-dir', join(dir.path, 'cache')], { reject: false, env: env() });
  const types = (events: Event[]) => new Set(events.map((e) => e.type));
  // The pid of an exec'd build is not known: journals, and mounts and loop devices under this test's directory.
  const left = () => leftovers(-1, journal, dir.path);

  before(async function () {
    await requireRootWith(this, 'busybox', 'linux', 'mkfs.ext4', 'setpriv');
    dir = await tempDir('umlbuild-events-', '/var/tmp');
    journal = join(dir.path, 'journal');
    // What busybox.yml names relative to the recipe that extends it (its shadow template).
    await exec('cp', ['-r', join(PROJECT, 'recipes/busybox'), dir.path]);
  });
  after(() => dir?.remove());

  /** busybox.yml with one COW variant; `variantCommand` runs in the guest while the variant is applied. */
  const busyboxWithVariant = (name: string, variantCommand: string) =>
    dir.write(
      `${name}.yml`,
      [
        `extends: ${join(PROJECT, 'recipes/busybox.yml')}`,
        `name: ${name}`,
        `output: ${name}`,
        'variants:',
        '  - name: v1',
        '    variables: { hostname: v1 }',
        '    steps:',
        '      - { step: template, template: hostname }',
        `      - { step: run, command: ${JSON.stringify(variantCommand)} }`,
        '',
      ].join('\n'),
    );
  const tiny = (name: string, ...steps: string[]) => dir.write(`${name}.yml`, [`name: ${name}`, 'variables: { hostname: tiny }', 'steps:', '  - step: directory', ...steps, '  - step: pack', '    fs: tar', ''].join('\n'));
  const hook = async (name: string, body: string) => {
    const file = await dir.write(`hooks/${name}`, `#!/bin/sh\n${body}\n`);
    await chmod(file, 0o755);
    return file;
  };

  /**
   * A before-pack hook: the host's GNU tar and dash (with their libraries) in the busybox tree. A variant's apply script
   * needs GNU tar (busybox tar lacks --keep-directory-symlink), and busybox sh runs its own applets before PATH.
   */
  const gnuTar = () =>
    hook(
      'gnu-tar.sh',
      [
        'set -e',
        'copy() { mkdir -p "$TARGET_DIR$(dirname "$2")"; rm -f "$TARGET_DIR$2"; cp -L "$1" "$TARGET_DIR$2"; }',
        'for f in $( (ldd /usr/bin/tar; ldd /bin/dash) | grep -o "/[^ ]*" | sort -u); do copy "$f" "$f"; done',
        'copy /usr/bin/tar /usr/bin/tar',
        'copy /bin/dash /bin/sh',
      ].join('\n'),
    );

  it('a full build (busybox, a COW variant, a before-pack and an after-image hook, --test): every event matches the schema, one build-finished with exit code 0, no secret', async () => {
    const recipe = await busyboxWithVariant('full', 'echo variant applied');
    const ok = await hook('ok.sh', 'echo "after-image sees $UMLBUILD_IMAGE"');
    const out = join(dir.path, 'full');
    const r = await ndjson([recipe, '--out', out, '--set', `root_password=${SECRET}`, '--hook', `before-pack=${await gnuTar()}`, '--hook', `after-image=${ok}`, '--test', '--no-network']);
    assert.equal(r.exitCode, 0, `${r.stdout.slice(-3000)}\n${r.stderr}`);
    const events = checkEvents(r.stdout, 0, 'build-finished');
    for (const t of ['build-started', 'step-started', 'command', 'output', 'step-finished', 'teardown', 'variant-started', 'variant-finished', 'hook-finished']) assert.ok(types(events).has(t), `an event of type ${t}`);
    const started = events.filter((e) => e.type === 'step-started').map((e) => e.index);
    assert.deepEqual(
      events.filter((e) => e.type === 'step-finished').map((e) => e.index),
      started,
      'every step that started finished',
    );
    assert.ok(
      events.some((e) => e.type === 'output' && e.line === `after-image sees ${join(out, 'full.img')}`),
      "the after-image hook's output is an event",
    );
    assert.ok(events.filter((e) => e.type === 'teardown').every((e) => e.ok === true));
    assert.equal(events.find((e) => e.type === 'variant-finished')!.cow, join(out, 'v1.cow'));
    assert.ok(
      events.some((e) => e.type === 'output' && /^variant v1 is applied by a UML boot: its run step \(\S+full\.yml:\d+\) runs in the guest$/.test(String(e.line))),
      'the build says why the variant boots UML (it is not written directly)',
    );
    assert.ok(
      events.some((e) => e.type === 'output' && /^PASS: \d+ of \d+ checks passed/.test(String(e.line))),
      '--test reports through output events: stdout holds nothing else',
    );
    assert.doesNotMatch(r.stdout + r.stderr, new RegExp(SECRET));
    assert.deepEqual(await left(), []);
  });

  it('a failing step: step-failed, the teardown, then one build-failed with exit code 1; nothing left', async () => {
    const recipe = await tiny('failing', '  - step: run', '    chroot: false', '    command: "echo doomed; exit 3"');
    const out = join(dir.path, 'failing');
    const r = await ndjson([recipe, '--out', out]);
    assert.equal(r.exitCode, 1, r.stdout + r.stderr);
    const events = checkEvents(r.stdout, 1, 'build-failed');
    const failed = events.find((e) => e.type === 'step-failed')!;
    assert.equal(failed.kind, 'run');
    assert.match(String(failed.error), /exit code 3/);
    assert.ok(events.some((e) => e.type === 'output' && e.line === 'doomed'));
    assert.ok(
      events.some((e) => e.type === 'teardown'),
      'the teardown is reported',
    );
    assert.match(String(events.at(-1)!.error), /step steps\[1\] run .* failed/);
    assert.deepEqual(await readdir(out), []);
  });

  it('a failing after-image hook: hook-failed, then one build-failed with exit code 1 (it used to end with no final event)', async () => {
    const recipe = await tiny('hooked', '  - step: template', '    template: hostname');
    const bad = await hook('bad.sh', 'echo "hook says no" >&2\nexit 7');
    const r = await ndjson([recipe, '--out', join(dir.path, 'hooked'), '--hook', `after-image=${bad}`]);
    assert.equal(r.exitCode, 1, r.stdout + r.stderr);
    const events = checkEvents(r.stdout, 1, 'build-failed');
    const failed = events.find((e) => e.type === 'hook-failed')!;
    assert.equal(failed.stage, 'after-image');
    assert.equal(failed.script, bad);
    assert.match(String(failed.error), /exit code 7/);
    assert.ok(!types(events).has('hook-finished'));
  });

  it('a failing COW variant: variant-failed, then one build-failed with exit code 1 (it used to end with no final event)', async () => {
    const recipe = await busyboxWithVariant('badvariant', 'echo trying; false');
    const r = await ndjson([recipe, '--out', join(dir.path, 'badvariant'), '--set', `root_password=${SECRET}`, '--hook', `before-pack=${await gnuTar()}`]);
    assert.equal(r.exitCode, 1, r.stdout.slice(-3000) + r.stderr);
    const events = checkEvents(r.stdout, 1, 'build-failed');
    const failed = events.find((e) => e.type === 'variant-failed')!;
    assert.equal(failed.name, 'v1');
    assert.match(String(failed.error), /variant v1: applying its changes in UML failed \(command-0-failed\)/);
    assert.deepEqual(await left(), []);
  });

  it('a host error (an ordinary user, a recipe that mounts): one build-failed with exit code 3', async () => {
    const recipe = await dir.write('mounts.yml', 'name: mounts\nsteps:\n  - step: sparse-disk\n    size: 64M\n  - step: mkfs\n  - step: mount\n  - step: unmount\n');
    await exec('chmod', ['a+rx', dir.path]);
    await exec('chmod', ['a+r', recipe]);
    const r = await exec('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'env', 'HOME=/tmp', BIN, recipe, '--out', join(dir.path, 'mounts'), '--log-format', 'ndjson'], { reject: false, env: { PATH: process.env.PATH! } });
    assert.equal(r.exitCode, 3, r.stdout + r.stderr);
    const events = checkEvents(r.stdout, 3, 'build-failed');
    assert.match(String(events.at(-1)!.error), /this build must run as root:\n {2}steps\[2\] mount/);
  });

  for (const [signal, code] of [
    ['SIGTERM', 143],
    ['SIGINT', 130],
  ] as const) {
    it(`an interrupt (${signal}) during a step: step-failed, the teardown, one build-failed with exit code ${code}; nothing left`, async () => {
      const recipe = await tiny(`slow-${code}`, '  - step: run', '    chroot: false', '    command: "echo sleeping; exec sleep 60"');
      const out = join(dir.path, `slow-${code}`);
      const child = spawn(BIN, [recipe, '--out', out, '--log-format', 'ndjson', '--cache-dir', join(dir.path, 'cache')], { env: env(), stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
      });
      const exited = new Promise<number | null>((res) => child.on('exit', (c) => res(c)));
      await new Promise<void>((res, rej) => {
        const t = setTimeout(() => rej(new Error(`no "sleeping" output: ${stdout}\n${stderr}`)), 60000);
        child.stdout.on('data', (d: Buffer) => {
          stdout += d.toString();
          if (stdout.includes('"line":"sleeping"')) {
            clearTimeout(t);
            res();
          }
        });
      });
      child.kill(signal);
      const exitCode = await exited;
      assert.equal(exitCode, code, `${stdout}\n${stderr}`);
      const events = checkEvents(stdout, code, 'build-failed');
      assert.ok(types(events).has('step-failed'));
      assert.ok(types(events).has('teardown'), 'the teardown is reported');
      assert.match(String(events.at(-1)!.error), new RegExp(`interrupted by ${signal}`));
      assert.deepEqual(await readdir(out), []);
      assert.deepEqual(await leftovers(child.pid!, journal, out), []);
    });
  }
});
