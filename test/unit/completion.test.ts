/**
 * `umlbuild completion bash|zsh|fish`, sourced into the real shells the way
 * their users do: commands, options, option values, shipped recipe names and
 * step kinds complete. zsh and fish come from .ci/run's test packages.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { completionScript } from '../../src/api/completion.js';
import { program } from '../../src/cli.js';
import { completionSpec } from '../../src/cli/completion.js';
import { exec } from '../../src/host/exec.js';
import { BIN, tempDir, type TempDir } from '../helpers.js';

const PATH = `${dirname(BIN)}:${process.env.PATH}`;
// HOME in the test's directory: fish writes its state there on a first run.
const run = (shell: string, script: string, cwd: string) => exec(shell, ['-c', script], { reject: false, env: { PATH, HOME: cwd }, cwd });

/** What bash offers for a command line whose last word is being completed ('' after a trailing space). */
function bashLine(line: string): string {
  const words = line.split(' ');
  const arr = words.map((w) => `'${w}'`).join(' ');
  return `COMP_WORDS=(${arr}); COMP_CWORD=${words.length - 1}; COMPREPLY=(); _umlbuild; echo "${line} => \${COMPREPLY[*]}"`;
}

describe('umlbuild completion', function () {
  this.timeout(60000);
  let dir: TempDir;
  beforeEach(async () => {
    dir = await tempDir();
  });
  afterEach(() => dir.remove());

  it('bash: source <(umlbuild completion bash) completes commands, options, values, recipes and step kinds', async () => {
    await dir.write('my-recipe.yml', 'name: x\n');
    const lines = [
      'umlbuild val',
      'umlbuild steps deb',
      'umlbuild --rend',
      'umlbuild --renderer si',
      'umlbuild cache ',
      'umlbuild cache ls --ca',
      'umlbuild completion ',
      'umlbuild test --ti',
      'umlbuild busy',
      'umlbuild validate my-',
      'umlbuild build --log-format ',
      'umlbuild test --ker',
      'umlbuild boot --kernel my-',
    ];
    const r = await run('bash', ['source <(umlbuild completion bash)', ...lines.map(bashLine)].join('\n'), dir.path);
    assert.equal(r.exitCode, 0, r.stderr);
    const got = Object.fromEntries(r.stdout.split('\n').map((l) => l.split(' => ') as [string, string]));
    assert.equal(got['umlbuild val'], 'validate');
    assert.equal(got['umlbuild steps deb'], 'debootstrap');
    assert.equal(got['umlbuild --rend'], '--renderer');
    assert.equal(got['umlbuild --renderer si'], 'simple silent');
    assert.equal(got['umlbuild cache '], 'ls prune');
    assert.equal(got['umlbuild cache ls --ca'], '--cache-dir');
    assert.equal(got['umlbuild completion '], 'bash zsh fish');
    assert.equal(got['umlbuild test --ti'], '--timeout');
    assert.equal(got['umlbuild busy'], 'busybox busybox-kernel', 'shipped recipes by name');
    assert.equal(got['umlbuild validate my-'], 'my-recipe.yml', 'a recipe file');
    assert.equal(got['umlbuild build --log-format '], 'text ndjson');
    assert.equal(got['umlbuild test --ker'], '--kernel');
    assert.equal(got['umlbuild boot --kernel my-'], 'my-recipe.yml', '--kernel completes a file');
  });

  it('zsh: the script parses and registers the completion through bashcompinit', async () => {
    const script = await exec(BIN, ['completion', 'zsh']);
    const file = await dir.write('umlbuild.zsh', `${script.stdout}\n`);
    const n = await exec('zsh', ['-n', file], { reject: false });
    assert.equal(n.exitCode, 0, n.stderr);
    const r = await run(
      'zsh',
      'autoload -U compinit && compinit -u -d "$PWD/.zcompdump"; source <(umlbuild completion zsh); print -r -- ${_comps[umlbuild]}; setopt ksharrays; COMP_WORDS=(umlbuild val); COMP_CWORD=1; _umlbuild; print -r -- "${COMPREPLY[@]}"',
      dir.path,
    );
    assert.equal(r.exitCode, 0, r.stderr);
    const [registered, words] = r.stdout.split('\n');
    assert.equal(registered, '_bash_complete -F _umlbuild');
    // zsh itself filters by the prefix: the function offers the commands and shipped recipes.
    assert.ok(words!.split(' ').includes('validate'), words);
  });

  it('fish: umlbuild completion fish | source; complete -C offers commands, options, recipes and step kinds', async () => {
    const script = await exec(BIN, ['completion', 'fish']);
    const file = await dir.write('umlbuild.fish', `${script.stdout}\n`);
    const n = await exec('fish', ['--no-execute', file], { reject: false, env: { PATH, HOME: dir.path } });
    assert.equal(n.exitCode, 0, n.stderr);
    const r = await run(
      'fish',
      'umlbuild completion fish | source; for l in "umlbuild val" "umlbuild steps debo" "umlbuild --rend" "umlbuild cache p" "umlbuild busy"; echo "$l => "(complete -C "$l" | string split -f1 \\t | string join " "); end',
      dir.path,
    );
    assert.equal(r.exitCode, 0, r.stderr);
    assert.match(r.stdout, /^umlbuild val => validate$/m);
    assert.match(r.stdout, /^umlbuild steps debo => debootstrap$/m);
    assert.match(r.stdout, /^umlbuild --rend => --renderer$/m);
    assert.match(r.stdout, /^umlbuild cache p => prune$/m);
    assert.match(r.stdout, /^umlbuild busy => busybox busybox-kernel$/m);
  });

  it('a hostile recipe file name never reaches the script; a hostile shell name is refused', async () => {
    const victim = await dir.write('victim', 'keep me\n');
    const spec = completionSpec(program());
    for (const shell of ['bash', 'zsh', 'fish'] as const) {
      const script = completionScript(shell, spec, { recipes: [`x';rm ${victim};'`, `$(rm ${victim})`, 'fine'], kinds: ['mkfs'] });
      assert.ok(!script.includes(victim), `${shell}: the hostile names are left out`);
      assert.ok(script.includes('fine'));
    }
    const r = await exec(BIN, ['completion', `bash; rm ${victim}`], { reject: false });
    assert.equal(r.exitCode, 2);
    assert.match(r.stderr, /value 'bash; rm .*' is invalid for argument 'shell'\. Allowed choices are bash, zsh, fish/);
    assert.equal(await readFile(victim, 'utf8'), 'keep me\n');
  });
});
