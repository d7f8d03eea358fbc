/** The NDJSON event vocabulary: its committed JSON Schema, and the events of a rejected recipe or command line. */
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { exec } from '../../src/host/exec.js';
import { build, type BuildEvent, eventsJsonSchema, loadRecipe } from '../../src/index.js';
import { emitter } from '../../src/runner/events.js';
import { registerSecret } from '../../src/host/secrets.js';
import { BIN, PROJECT, rejection, tempDir, type TempDir } from '../helpers.js';
import { checkEvents } from '../support/events.js';

const cli = (args: string[], env: Record<string, string> = {}) => exec(BIN, args, { reject: false, env: { ...env, PATH: process.env.PATH! } });

describe('events (--log-format ndjson): vocabulary and schema', function () {
  this.timeout(30000);
  let dir: TempDir;
  beforeEach(async () => {
    dir = await tempDir();
  });
  afterEach(() => dir.remove());

  it('docs/events.schema.json is what `umlbuild schema --events` prints now (regenerate: umlbuild schema --events > docs/events.schema.json)', async () => {
    const committed = JSON.parse(await readFile(join(PROJECT, 'docs/events.schema.json'), 'utf8'));
    assert.deepEqual(eventsJsonSchema(), committed);
    const r = await cli(['schema', '--events']);
    assert.equal(r.exitCode, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), committed);
  });

  it('docs/events.md documents every event type of the schema', async () => {
    const doc = await readFile(join(PROJECT, 'docs/events.md'), 'utf8');
    const types = (eventsJsonSchema().oneOf as { properties: { type: { const: string } } }[]).map((s) => s.properties.type.const);
    assert.ok(types.length >= 19);
    for (const t of types) assert.match(doc, new RegExp(`^\\| \`${t}\` \\|`, 'm'), t);
  });

  it('the emitter masks secrets in every string, lists included', () => {
    registerSecret('emitter-secret-value');
    const seen: unknown[] = [];
    emitter((e) => seen.push(e))({ type: 'artifacts', files: ['/out/emitter-secret-value.img'] });
    emitter((e) => seen.push(e))({ type: 'warning', message: 'pw emitter-secret-value' });
    assert.doesNotMatch(JSON.stringify(seen), /emitter-secret-value/);
  });

  for (const command of ['build', 'validate']) {
    it(`${command} --log-format ndjson of a rejected recipe: one validation-error per problem with file, line, column and key path, then one ${command}-failed with exit code 2`, async () => {
      const file = await dir.write('bad.yml', 'name: bad\nsteps:\n  - step: sparse-disk\n    size: huge\n  - step: nope\n');
      const r = await cli([command, file, '--out', join(dir.path, 'out'), '--log-format', 'ndjson']);
      assert.equal(r.exitCode, 2, r.stderr);
      const events = checkEvents(r.stdout, 2, `${command}-failed`);
      const errors = events.filter((e) => e.type === 'validation-error');
      assert.deepEqual(
        errors.map((e) => [e.file, e.line, e.column, e.path]),
        [
          [file, 4, 11, 'steps[0].size'],
          [file, 5, 11, 'steps[1].step'],
        ],
      );
      assert.match(String(errors[1]!.message), /unknown step kind "nope"/);
      assert.match(r.stderr, /bad\.yml:4:11: steps\[0\]\.size/, 'the text for people stays on stderr');
      assert.deepEqual(await readdir(dir.path), ['bad.yml'], 'nothing created');
    });
  }

  it('the library: build() refused before anything runs (the host check of a step) still ends its events with one build-failed, after a validation-error per problem', async () => {
    const file = await dir.write('rd.yml', `name: rd\nsteps:\n  - step: directory\n  - step: rootfs-dir\n    source: ${dir.path}/missing\n  - step: pack\n    fs: tar\n`);
    const plan = await loadRecipe(file);
    const events: (BuildEvent & { time: string })[] = [];
    await rejection(build(plan, { outDir: join(dir.path, 'out'), renderer: 'silent', cacheDir: false, onEvent: (e) => events.push(e) }));
    assert.deepEqual(
      events.map((e) => e.type),
      ['validation-error', 'build-failed'],
    );
    assert.deepEqual(events[0], { type: 'validation-error', file, line: 5, column: 13, path: 'steps[1].source', message: `directory ${dir.path}/missing does not exist`, time: events[0]!.time });
    assert.equal((events[1] as { exitCode: number }).exitCode, 2);
    assert.deepEqual(await readdir(dir.path), ['rd.yml']);
  });

  it('--json with a bad option value (--set without =): the validation-error and one build-failed with exit code 2', async () => {
    const r = await cli([join(PROJECT, 'recipes/busybox.yml'), '--json', '--set', 'novalue']);
    assert.equal(r.exitCode, 2, r.stderr);
    const events = checkEvents(r.stdout, 2, 'build-failed');
    assert.equal(events[0]!.type, 'validation-error');
    assert.equal(events[0]!.file, '--set');
  });

  it('validate --log-format ndjson: warnings are events, then validate-finished with exit code 0', async () => {
    // An UMLBUILD_VAR_ that names no variable is a warning.
    const file = await dir.write('warn.yml', 'name: warn\nvariables: { hostname: h }\nsteps:\n  - step: directory\n  - step: pack\n    fs: tar\n');
    const r = await cli(['validate', file, '--log-format', 'ndjson'], { UMLBUILD_VAR_HOSTNAM: 'x' });
    assert.equal(r.exitCode, 0, r.stderr);
    const events = checkEvents(r.stdout, 0, 'validate-finished');
    const warnings = events.filter((e) => e.type === 'warning');
    assert.equal(warnings.length, 1, r.stdout + r.stderr);
    assert.match(String(warnings[0]!.message), /UMLBUILD_VAR_HOSTNAM names no variable/);
    assert.match(r.stderr, /warning:/);
  });
});
