/**
 * The hostile-recipe corpus (test/fixtures/bad-recipes): every file is
 * rejected by `umlbuild validate` and by a build with exit 2, a message that
 * names the file, line, column and key, no stack trace, and no file created.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { main } from '../../src/cli.js';
import { PROJECT, tempDir, type TempDir } from '../helpers.js';

const DIR = join(PROJECT, 'test/fixtures/bad-recipes');

/** The key path and what the first message says, per fixture. */
const EXPECTED: Record<string, RegExp> = {
  'bad-name.yml': /:1:7: name: use letters, digits/,
  'bad-variable-name.yml': /:3:12: variables\.my-size: /,
  'debootstrap-bad-backend.yml': /:6:14: steps\[1\]\.backend: Invalid option: expected one of "auto"\|"debootstrap"\|"mmdebstrap"/,
  'debootstrap-bad-variant.yml': /:6:14: steps\[1\]\.variant: Invalid option/,
  'debootstrap-components-string.yml': /:6:17: steps\[1\]\.components: Invalid input: expected array/,
  'debootstrap-injection.yml': /:5:12: steps\[1\]\.suite: not a valid name/,
  'debootstrap-no-suite.yml': /:4:5: steps\[1\]\.suite: required/,
  'directory-bad-fs.yml': /:4:9: steps\[0\]\.fs: Invalid option/,
  'empty.yml': /:1:1: a recipe must be a YAML mapping/,
  'extends-cycle-a.yml': /extends-cycle-b\.yml:2:10: extends: circular extends: \S*extends-cycle-a\.yml -> \S*extends-cycle-b\.yml -> \S*extends-cycle-a\.yml/,
  'extends-cycle-b.yml': /extends-cycle-a\.yml:2:10: extends: circular extends/,
  'extends-missing.yml': /extends-missing\.yml:2:10: extends: cannot extend no-such-recipe\.yml/,
  'launch-bad-cpus.yml': /:3:9: launch\.cpus: a CPU list such as 0 or 0-1/,
  'launch-bad-mem.yml': /:3:8: launch\.mem: use a number with K, M or G/,
  'launch-bad-transport.yml': /:5:18: launch\.networks\[0\]\.transport: transport must be one of tap, /,
  'launch-gre-one-key.yml': /:4:7: launch\.networks\[0\]\.tx_key: GRE rx_key and tx_key go together/,
  'launch-negative-mem.yml': /:3:8: launch\.mem: Too small/,
  'missing-name.yml': /:1:1: missing "name"/,
  'mkfs-bad-fs.yml': /:6:9: steps\[1\]\.fs: Invalid option/,
  'mkfs-bad-uuid.yml': /:6:11: steps\[1\]\.uuid: not a UUID/,
  'modules-bad-version.yml': /:5:14: steps\[1\]\.version: Invalid string/,
  'overlay-dest-escape.yml': /:6:11: steps\[1\]\.dest: must be an absolute path inside the rootfs/,
  'pack-bad-fs.yml': /:5:9: steps\[1\]\.fs: Invalid option/,
  'pack-no-size.yml': /:4:5: steps\[1\]\.size: an ext image needs a size/,
  'password-bad-hash.yml': /:7:15: steps\[1\]\.users\[0\]\.hash: does not look like a crypt\(3\) hash/,
  'password-newline.yml': /:7:19: steps\[1\]\.users\[0\]\.password: a password may hold no newline/,
  'output-escape.yml': /:4:9: output: output "\.\.\/\.\.\/escaped": must be a file name \(no "\/".*\(value of variable "hostname"\)/,
  'secret-into-output.yml': /:4:9: output: secret variable "root_password" flows into output, which is not a secret field/,
  'template-address-injection.yml': /:7:5: steps\[1\]: variable "address": not an IP address/,
  'test-bad-hostname.yml': /:3:13: test\.hostname: not a valid hostname/,
  'password-bad-method.yml': /:5:13: steps\[1\]\.method: Invalid option/,
  'password-bad-user.yml': /:6:15: steps\[1\]\.users\[0\]\.user: not a valid user name/,
  'password-no-secret.yml': /:6:9: steps\[1\]\.users\[0\]: give one of password, hash, password_env or password_file/,
  'password-no-users.yml': /:5:12: steps\[1\]\.users: Too small/,
  'reproducible-mounted.yml': /:2:15: reproducible: reproducible images need a directory-first recipe/,
  'reproducible-not-bool.yml': /:2:15: reproducible: Invalid input: expected boolean/,
  'required-variable.yml': /:3:3: variables\.suite: variable "suite" is required: give it with --set suite=\.\.\. or UMLBUILD_VAR_SUITE/,
  'run-bad-env.yml': /:7:19: steps\[1\]\.env\.BAD NAME: /,
  'run-nothing.yml': /:4:5: steps\[1\]: give exactly one of command, script or argv/,
  'run-two-commands.yml': /:4:5: steps\[1\]: give exactly one of command, script or argv/,
  'size-absurd.yml': /:4:11: steps\[0\]\.size: size "99999T" is absurdly large/,
  'size-garbage.yml': /:4:11: steps\[0\]\.size: cannot parse size "lots"/,
  'size-negative.yml': /:4:11: steps\[0\]\.size: cannot parse size "-3G"/,
  'size-tiny.yml': /:4:11: steps\[0\]\.size: size 1K is too small \(at least 8M\)/,
  'size-wrong-type.yml': /:4:11: steps\[0\]\.size: /,
  'step-not-mapping.yml': /:3:5: steps\[0\]: each step must be a mapping starting with "step: KIND"/,
  'step-without-kind.yml': /:3:5: steps\[0\]: missing "step:" \(one of: sparse-disk, /,
  'steps-empty.yml': /:2:8: steps: a recipe needs at least one step/,
  'steps-not-list.yml': /:2:8: steps: Invalid input: expected array, received number/,
  'template-bad-mode.yml': /:6:11: steps\[1\]\.mode: must be an octal mode such as "0644"/,
  'template-custom-no-dest.yml': /:4:5: steps\[1\]\.dest: dest is required for a template that is not built in/,
  'template-dest-escape.yml': /:6:11: steps\[1\]\.dest: must not contain "\.\."/,
  'template-dest-relative.yml': /:6:11: steps\[1\]\.dest: must be an absolute path inside the rootfs/,
  'test-bad-user.yml': /:3:9: test\.user: Invalid input: expected string, received number/,
  'top-level-list.yml': /:1:1: a recipe must be a YAML mapping/,
  'tune-bad.yml': /:2:7: tune: Invalid option: expected one of "uml"\|"none"/,
  'undefined-variable.yml': /:7:11: steps\[1\]\.size: undefined variable "sise" \(defined: size\)/,
  'unknown-step-key.yml': /:5:5: steps\[0\]\.colour: unknown key "colour"/,
  'unknown-step.yml': /:3:11: steps\[0\]\.step: unknown step kind "teleport"/,
  'unknown-top-key.yml': /:2:1: colour: unknown key "colour"/,
  'variable-bad-pattern.yml': /:6:14: variables\.word\.pattern: not a valid regular expression/,
  'variable-bad-type.yml': /:3:26: variables\.n\.type: Invalid option: expected one of "string"\|"integer"\|"boolean"\|"size"\|"enum"\|"pattern"\|"hostname"/,
  'variable-default-not-in-enum.yml': /:4:14: variables\.network\.default: variable "network" must be one of dhcp, static, none; "bogus" is not/,
  'variable-enum-no-values.yml': /:5:5: variables\.network\.type: type enum needs values/,
  'variable-integer-out-of-range.yml': /:3:20: variables\.cpus\.default: variable "cpus" must be a whole number >= 1; 0 is not/,
  'variable-required-not-bool.yml': /:5:15: variables\.size\.required: Invalid input: expected boolean/,
  'variable-requires-bad-value.yml': /:8:7: variables\.network\.requires\.statik: "statik" is not one of the values \(dhcp, static\)/,
  'variable-requires-unknown.yml': /:8:15: variables\.network\.requires\.static: requires variable "adress", which the recipe does not define/,
  'variable-unknown-spec-key.yml': /:5:5: variables\.n\.tpye: unknown key "tpye"/,
  'variable-values-without-enum.yml': /:5:5: variables\.mode\.values: values: is for type: enum/,
  'variable-cycle.yml': /:3:3: variables\.a: variables refer to each other in a cycle: a -> b -> a/,
  'variant-bad-step.yml': /:5:15: variants\[0\]\.steps\[0\]\.step: a sparse-disk step cannot be used here/,
  'variant-no-name.yml': /:3:5: variants\[0\]\.name: required/,
  'yaml-alias-bomb.yml': /:4:8: YAML: aliases expand too much or do not resolve \(an alias bomb\?\)/,
  'yaml-duplicate-key.yml': /:2:1: YAML: Map keys must be unique/,
  'yaml-indent.yml': /:3:11: YAML: /,
  'yaml-tab.yml': /:3:1: YAML: Tabs are not allowed as indentation/,
  'yaml-unclosed.yml': /:3:1: YAML: Flow /,
};

async function run(argv: string[]): Promise<{ code: number; stderr: string }> {
  let stderr = '';
  const write = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((s: string | Uint8Array) => {
    stderr += String(s);
    return true;
  }) as typeof process.stderr.write;
  try {
    return { code: await main(['node', 'umlbuild', ...argv]), stderr };
  } finally {
    process.stderr.write = write;
  }
}

describe('malformed recipes (test/fixtures/bad-recipes)', () => {
  const files = readdirSync(DIR)
    .filter((f) => f.endsWith('.yml'))
    .sort();
  let out: TempDir;
  before(async () => {
    out = await tempDir();
  });
  after(() => out.remove());

  it('has at least 40 of them, each with an expected message', () => {
    assert.ok(files.length >= 40, `${files.length} fixtures`);
    assert.deepEqual(files, Object.keys(EXPECTED).sort());
  });

  for (const file of files) {
    it(`${file}: exit 2, file:line:col and key path, no stack trace, nothing created`, async () => {
      const path = join(DIR, file);
      const v = await run(['validate', path]);
      assert.equal(v.code, 2, v.stderr);
      assert.match(v.stderr, /^umlbuild: (\S+\.yml: no such file\n)?\/\S+\.yml:\d+:\d+: /);
      assert.match(v.stderr, EXPECTED[file]!);
      assert.doesNotMatch(v.stderr, /\n\s+at .*\(.*:\d+:\d+\)/, 'no stack trace');
      const dest = join(out.path, file);
      const b = await run([path, '--out', dest, '--renderer', 'silent']);
      assert.equal(b.code, 2, b.stderr);
      assert.match(b.stderr, EXPECTED[file]!);
      assert.equal(existsSync(dest), false, 'the build created nothing');
    });
  }
});
