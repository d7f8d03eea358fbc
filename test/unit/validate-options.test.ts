/** `validate` takes every option of `build` that changes the plan (one definition, cli/options.ts) and checks exactly that plan. */
import assert from 'node:assert/strict';
import { chmod, readFile, readdir } from 'node:fs/promises';
import type { Command, Option } from 'commander';
import { exec } from '../../src/host/exec.js';
import { program } from '../../src/cli.js';
import { BIN, tempDir, type TempDir } from '../helpers.js';

const cli = (args: string[]) => exec(BIN, args, { reject: false, env: { PATH: process.env.PATH! } });

/** build's options that do not change the plan or what is checked before a build, and why. */
const NOT_PLAN: Record<string, string> = {
  '--dry-run': 'prints the plan validate checks',
  '--renderer': 'progress display',
  '--keep-going-on-teardown': 'after the build',
  '--test': 'boots the result',
  '--replace-base': 'whether existing COW files may break, at build time',
  '--cache-dir': 'where cached bootstraps are, not what is built',
  '--no-cache': 'the same',
  '--refresh': 'the same',
  '--artifacts': 'copies of the outputs',
  '--compress': 'the same',
  '--no-fast': 'how, not what',
  '--no-checksum': 'a manifest field',
  '--checksum': 'a manifest field',
  '--on-failure': 'what happens after a step fails, not what is built',
  '--no-network': '--test',
};

const describeOption = (o: Option) => JSON.stringify({ flags: o.flags, description: o.description, default: o.defaultValue, choices: o.argChoices, negate: o.negate, parse: o.parseArg?.name });

describe('validate: the options of build that change the plan', function () {
  this.timeout(30000);
  let dir: TempDir;
  beforeEach(async () => {
    dir = await tempDir();
  });
  afterEach(() => dir.remove());

  it('every option of build (from commander) is either one validate has, defined the same, or listed here as not changing the plan', () => {
    const commands = program().commands as Command[];
    const build = commands.find((c) => c.name() === 'build')!;
    const validate = commands.find((c) => c.name() === 'validate')!;
    const validates = new Map(validate.options.map((o) => [o.long!, describeOption(o)]));
    const unclassified: string[] = [];
    const shared: string[] = [];
    for (const o of build.options) {
      if (validates.has(o.long!)) {
        assert.equal(validates.get(o.long!), describeOption(o), `${o.long}: defined the same in build and validate`);
        shared.push(o.long!);
      } else if (!(o.long! in NOT_PLAN)) unclassified.push(o.long!);
    }
    assert.deepEqual(unclassified, [], 'build options validate lacks that are not known to leave the plan alone');
    for (const long of ['--out', '--set', '--variant', '--owner', '--hook', '--log-format', '--json']) assert.ok(shared.includes(long), long);
    assert.deepEqual(
      [...validates.keys()].filter((l) => !shared.includes(l)),
      [],
      'validate has no option build lacks',
    );
    for (const long of Object.keys(NOT_PLAN))
      assert.ok(
        build.options.some((o) => o.long === long),
        `${long} is still an option of build`,
      );
  });

  const withVariants = ['name: cows', 'steps:', '  - step: directory', '  - step: pack', '    size: 64M', 'variants:', '  - name: a', '    steps: [{ step: run, command: "true" }]', ''].join('\n');

  it('validate --variant hostfs reports a problem only the hostfs plan has (COW variants), plain validate none', async () => {
    const file = await dir.write('cows.yml', withVariants);
    const plain = await cli(['validate', file]);
    assert.equal(plain.exitCode, 0, plain.stderr);
    const hostfs = await cli(['validate', file, '--variant', 'hostfs']);
    assert.equal(hostfs.exitCode, 2, hostfs.stdout + hostfs.stderr);
    assert.match(hostfs.stderr, /cows\.yml:\d+:\d+: variants: COW variants need a disk image; the hostfs variant is a directory/);
    assert.doesNotMatch(hostfs.stderr, /^\s+at /m);
  });

  it('validate --hook checks the hook as build does: the stage must exist in the recipe, the script must be executable; it never runs it', async () => {
    const victim = await dir.write('victim.txt', 'keep me\n');
    const hook = await dir.write('hook.sh', `#!/bin/sh\nrm -f ${victim}\ntouch ${dir.path}/hook-ran\n`);
    await chmod(hook, 0o755);
    const file = await dir.write('dir.yml', 'name: d\nsteps:\n  - step: directory\n  - step: pack\n    fs: tar\n');
    const bootstrap = await cli(['validate', file, '--hook', `after-bootstrap=${hook}`]);
    assert.equal(bootstrap.exitCode, 2, bootstrap.stdout + bootstrap.stderr);
    assert.match(bootstrap.stderr, /--hook after-bootstrap=\S+hook\.sh: the recipe has no debootstrap, rootfs-tarball or rootfs-dir step/);
    const pack = await cli(['validate', file, '--hook', `before-pack=${hook}`, '--hook', `after-image=${hook}`]);
    assert.equal(pack.exitCode, 0, pack.stderr);
    assert.match(pack.stdout, /dir\.yml: ok \(3 steps\)/, 'the before-pack hook is a step of the plan');
    const notExec = await cli(['validate', file, '--hook', `before-pack=${victim}`]);
    assert.equal(notExec.exitCode, 2);
    assert.match(notExec.stderr, /victim\.txt is not an executable file/);
    assert.equal(await readFile(victim, 'utf8'), 'keep me\n', 'no hook ran');
    assert.deepEqual((await readdir(dir.path)).sort(), ['dir.yml', 'hook.sh', 'victim.txt']);
  });

  it('validate --out checks image sizes against the output filesystem, as build and build --dry-run do', async () => {
    const file = await dir.write('big.yml', 'name: big\nsteps:\n  - step: directory\n  - step: pack\n    size: 100T\n');
    const ext = await cli(['validate', file, '--out', dir.path]);
    const dry = await cli(['build', file, '--out', dir.path, '--dry-run']);
    if ((await exec('stat', ['-f', '-c', '%T', dir.path])).stdout.trim() === 'ext2/ext3') {
      for (const r of [ext, dry]) {
        assert.equal(r.exitCode, 2, r.stdout + r.stderr);
        assert.match(r.stderr, /big\.yml:5:\d+: steps\[1\]\.size: size 100T is larger than the largest file the output filesystem can hold/);
      }
    }
    assert.equal(ext.exitCode, dry.exitCode, `validate and build --dry-run agree: ${ext.stderr} / ${dry.stderr}`);
    assert.deepEqual((await readdir(dir.path)).sort(), ['big.yml']);
  });
});
