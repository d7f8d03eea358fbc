/**
 * Help and mistakes, the user's way (bin/umlbuild): did-you-mean for an
 * unknown command, step kind and key; bare `umlbuild` prints usage (exit 2);
 * output into a closed pipe ends quietly; every command's --help describes
 * its arguments, shows real defaults, examples and the environment it reads;
 * test-only options live under `test`.
 */
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { program } from '../../src/cli.js';
import { exec } from '../../src/host/exec.js';
import { commands, helpText } from '../docs.js';
import { BIN, tempDir, type TempDir } from '../helpers.js';

const cli = (args: string[], env: Record<string, string> = {}) => exec(BIN, args, { reject: false, env: { ...env, PATH: process.env.PATH! } });
/** A shell line with umlbuild on PATH, as a person types it. */
const sh = (line: string) => exec('bash', ['-c', line], { reject: false, env: { PATH: `${dirname(BIN)}:${process.env.PATH}` } });

describe('help and mistakes', function () {
  this.timeout(60000);
  let dir: TempDir;
  beforeEach(async () => {
    dir = await tempDir();
  });
  afterEach(() => dir.remove());

  it("a mistyped command: unknown command 'valdiate', did you mean 'validate'? (not build's 'too many arguments'), exit 2", async () => {
    const victim = await dir.write('victim', 'keep me\n');
    const r = await cli(['valdiate', 'recipes/bookworm.yml']);
    assert.equal(r.exitCode, 2);
    assert.match(r.stderr, /^umlbuild: unknown command 'valdiate', did you mean 'validate'\?/m);
    assert.doesNotMatch(r.stderr, /too many arguments|^\s+at /m);
    const alone = await cli(['bulid']);
    assert.equal(alone.exitCode, 2);
    assert.match(alone.stderr, /unknown command 'bulid', did you mean 'build'\?/);
    // A file of that name is a recipe, not a typo; a hostile word is only named, never run.
    const file = await dir.write('vaildate', 'name: x\nsteps: []\n');
    const asFile = await exec(BIN, ['vaildate', '--dry-run', '--out', `${dir.path}/out`], { reject: false, cwd: dir.path, env: { PATH: process.env.PATH! } });
    assert.doesNotMatch(asFile.stderr, /unknown command/, file);
    const hostile = await cli([`$(rm ${victim})`]);
    assert.equal(hostile.exitCode, 2);
    assert.equal(await readFile(victim, 'utf8'), 'keep me\n');
  });

  it('bare umlbuild prints the usage with every command, exit 2', async () => {
    const r = await cli([]);
    assert.equal(r.exitCode, 2);
    assert.match(r.stderr, /^Usage: umlbuild /m);
    for (const name of ['build', 'validate', 'test', 'completion']) assert.match(r.stderr, new RegExp(`^  ${name} `, 'm'));
    assert.doesNotMatch(r.stderr, /missing required argument/);
  });

  it('a mistyped step kind, recipe key, step option and test key each name the closest one', async () => {
    const file = await dir.write('typo.yml', ['name: typo', 'varaibles: {a: 1}', 'steps:', '  - step: directory', '    tmfps: true', '  - step: mkfss', 'test:', '  hostnmae: x', ''].join('\n'));
    const r = await cli(['validate', file]);
    assert.equal(r.exitCode, 2);
    assert.match(r.stderr, /typo\.yml:2:1: varaibles: unknown key "varaibles"; did you mean "variables"\?/);
    assert.match(r.stderr, /typo\.yml:5:5: steps\[0\]\.tmfps: unknown key "tmfps"; did you mean "tmpfs"\?/);
    assert.match(r.stderr, /typo\.yml:6:11: steps\[1\]\.step: unknown step kind "mkfss"; did you mean "mkfs"\?/);
    assert.match(r.stderr, /test\.hostnmae: unknown key "hostnmae"; did you mean "hostname"\?/);
    const far = await dir.write('far.yml', 'name: far\nsteps:\n  - step: directory\n    zzzzzzzz: 1\n');
    const f = await cli(['validate', far]);
    assert.match(f.stderr, /unknown key "zzzzzzzz"$/m, 'no suggestion when nothing is close');
    const s = await cli(['steps', 'debootsrap']);
    assert.equal(s.exitCode, 2);
    assert.match(s.stderr, /unknown step kind "debootsrap"; did you mean "debootstrap"\?/);
    assert.match((await cli(['steps', 'mkfs'])).stdout, /^mkfs {2}.*\n {4}fs: /);
  });

  it('umlbuild steps KIND: a hostile kind is an unknown step kind, nothing read or run', async () => {
    const victim = await dir.write('victim', 'keep me\n');
    const r = await cli(['steps', `../../${victim}`]);
    assert.equal(r.exitCode, 2);
    assert.match(r.stderr, /unknown step kind/);
    assert.doesNotMatch(r.stdout + r.stderr, /keep me/);
    assert.equal(await readFile(victim, 'utf8'), 'keep me\n');
  });

  for (const args of ['schema', 'steps', '--help', 'completion bash']) {
    it(`umlbuild ${args} into a closed pipe ends quietly with exit 0 (no EPIPE stack trace)`, async () => {
      // `| true` closes the pipe before umlbuild writes; `| head -1` is the everyday case.
      for (const reader of ['true', 'head -1']) {
        const r = await sh(`set -o pipefail; umlbuild ${args} | ${reader} >/dev/null`);
        assert.equal(r.exitCode, 0, r.stderr);
        assert.equal(r.stderr, '');
      }
    });
  }

  it('a build whose output pipe closes goes on, tears down and exits with its own code', async () => {
    const file = await dir.write('r.yml', 'name: r\nsteps:\n  - step: directory\n  - step: echo\n    message: hello\n  - step: fail\n    message: the step that fails\n');
    const r = await sh(`set -o pipefail; umlbuild ${file} --out ${dir.path}/out --renderer simple | true`);
    assert.equal(r.exitCode, 1, r.stderr);
    assert.match(r.stderr, /the step that fails/);
    assert.doesNotMatch(r.stderr, /EPIPE|^\s+at /m);
    assert.deepEqual(await readdir(`${dir.path}/out`), [], 'the tree was torn down');
  });

  it('--help of every command: described arguments, real defaults, examples; environment where one is read', () => {
    const p = program();
    const all = commands(p).filter(({ path }) => path !== 'help');
    assert.ok(all.length >= 14, all.map((c) => c.path).join(' '));
    for (const { path, cmd } of all) {
      const text = helpText(cmd);
      assert.doesNotMatch(text, /\(default: (\{\}|\[\]|"[^"]*")\)|default: "/, `${path}: a default shown as data`);
      assert.match(text, /^Examples:\n {2}(\S.*)?umlbuild /m, `${path}: examples`);
      for (const a of cmd.registeredArguments) assert.ok(a.description, `${path}: argument ${a.name()} is described`);
    }
    const help = (path: string) => helpText(all.find((c) => c.path === path)!.cmd);
    for (const v of ['UMLBUILD_VAR_<NAME>', 'SOURCE_DATE_EPOCH', 'UMLBUILD_JOURNAL_DIR', 'XDG_CACHE_HOME', 'UMLBUILD_TEST_PASSWORD']) assert.ok(help('build').includes(v), `build --help names ${v}`);
    assert.match(help('build').replace(/\s+/g, ' '), /--out <dir> .*\(default: the current directory\)/);
    assert.match(help('test').replace(/\s+/g, ' '), /--timeout <seconds> .*\(default: 120\)/);
    assert.match(help('cleanup'), /UMLBUILD_JOURNAL_DIR/);
    assert.match(help('cache ls'), /XDG_CACHE_HOME/);
    assert.match(help('boot'), /UML_USER/);
  });

  it('test-only options live under `test`: build --help has none, build --login is refused, test --help has them', async () => {
    const p = program();
    const build = helpText(p.commands.find((c) => c.name() === 'build')!);
    const test = helpText(p.commands.find((c) => c.name() === 'test')!);
    for (const o of ['--login', '--expect', '--timeout', '--hostname']) {
      assert.doesNotMatch(build, new RegExp(`^ +${o} <`, 'm'), `build --help has no ${o}`);
      assert.match(test, new RegExp(`^ +${o} <`, 'm'), `test --help has ${o}`);
    }
    const r = await cli(['build', 'recipes/busybox.yml', '--test', '--login', 'root:x', '--dry-run']);
    assert.equal(r.exitCode, 2);
    assert.match(r.stderr, /unknown option '--login'/);
  });
});
