/**
 * Variables that mean what they say (issue 12, 5): `--set` splits at the
 * first `=`, a secret value is never printed, an unknown UMLBUILD_VAR_* is
 * told with the closest name, typed variables accept and refuse values
 * naming the flag or environment variable that gave them, and a value may
 * require others (network: static needs address and netmask).
 */
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { collectSet } from '../../src/cli.js';
import { RecipeError } from '../../src/errors.js';
import { exec } from '../../src/host/exec.js';
import { loadRecipe } from '../../src/recipe/load.js';
import { verifyPlan } from '../../src/runner/verify.js';
import { closest } from '../../src/recipe/var-types.js';
import { BIN, PROJECT, rejection, tempDir, type TempDir } from '../helpers.js';

const cli = (args: string[], env: Record<string, string> = {}) => exec(BIN, args, { reject: false, env: { ...env, PATH: process.env.PATH! } });

const TYPED = [
  'name: t',
  'variables:',
  '  count: { default: 2, type: integer, min: 1, max: 8 }',
  '  flag: { default: false, type: boolean }',
  '  disk: { default: 64M, type: size }',
  '  word: { default: abc, type: pattern, pattern: "[a-z]+" }',
  '  host: { default: uml, type: hostname }',
  '  label: { default: x, type: string }',
  '  network:',
  '    default: dhcp',
  '    type: enum',
  '    values: [dhcp, static, none]',
  '    requires: { static: [address, netmask] }',
  '  address: ""',
  '  netmask: ""',
  '  token: { default: tok, secret: true, type: pattern, pattern: "[a-z]+" }',
  'steps:',
  '  - step: echo',
  '    message: "${count} ${flag} ${disk} ${word} ${host} ${label} ${network} ${address} ${netmask}"',
  '',
].join('\n');

describe('typed variables, --set and UMLBUILD_VAR_*', function () {
  this.timeout(30000);
  let dir: TempDir;
  beforeEach(async () => {
    dir = await tempDir();
  });
  afterEach(() => dir.remove());

  it('--set splits at the first "=": a value may hold "=" (passwords, URLs with ?a=b)', () => {
    assert.deepEqual(collectSet('root_password=s3cr=tPassw0rd', {}), { root_password: 's3cr=tPassw0rd' });
    assert.deepEqual(collectSet('mirror=http://m.invalid/debian?a=b&c=d', {}), { mirror: 'http://m.invalid/debian?a=b&c=d' });
    assert.deepEqual(collectSet('x=', {}), { x: '' });
  });

  it('a malformed --set does not echo its argument (it may be a secret)', () => {
    for (const arg of ['s3cretOnly', '=s3cretOnly']) {
      const err = (() => {
        try {
          collectSet(arg, {});
        } catch (e) {
          return e as Error;
        }
        throw new Error('accepted');
      })();
      assert.match(err.message, /use --set key=value/);
      assert.doesNotMatch(err.message, /s3cretOnly/);
    }
  });

  it('umlbuild validate --set root_password=s3cr=tPassw0rd and --set url=...?a=b are accepted; a typo in the name prints no part of the value', async () => {
    const file = await dir.write('r.yml', 'name: r\nvariables: {root_password: {default: x, secret: true}}\nsteps:\n  - step: echo\n    message: hi\n');
    const ok = await cli(['validate', file, '--set', 'root_password=s3cr=tPassw0rd']);
    assert.equal(ok.exitCode, 0, ok.stderr);
    const url = await dir.write('u.yml', 'name: u\nvariables: {url: ""}\nsteps:\n  - step: echo\n    message: "${url}"\n');
    const dry = await cli([url, '--dry-run', '--out', join(dir.path, 'out'), '--set', 'url=http://m.invalid/debian?a=b&c=d']);
    assert.equal(dry.exitCode, 0, dry.stderr);
    assert.match(dry.stdout, /message: http:\/\/m\.invalid\/debian\?a=b&c=d$/m);
    const bad = await cli(['validate', file, '--set', 'root_pasword=s3cr=tPassw0rd']);
    assert.equal(bad.exitCode, 2);
    assert.match(bad.stderr, /--set: root_pasword: unknown variable "root_pasword" .*did you mean "root_password"\?/);
    assert.doesNotMatch(bad.stdout + bad.stderr, /s3cr|tPassw0rd/);
  });

  it('a secret value of the wrong type is refused without being shown', async () => {
    const file = await dir.write('t.yml', TYPED);
    for (const [args, env, by] of [
      [['--set', 'token=Sup3r=Secret!'], {}, '--set token'],
      [[], { UMLBUILD_VAR_TOKEN: 'Sup3r=Secret!' }, 'UMLBUILD_VAR_TOKEN'],
    ] as const) {
      const r = await cli([file, '--out', join(dir.path, 'out'), ...args], env);
      assert.equal(r.exitCode, 2, r.stderr);
      assert.match(r.stderr, new RegExp(`^umlbuild: ${by}: variable "token" must be text matching .*; its value \\(secret, not shown\\) is not`, 'm'));
      assert.doesNotMatch(r.stdout + r.stderr, /Sup3r|Secret!/);
    }
    assert.deepEqual(await readdir(dir.path), ['t.yml']);
  });

  it('an UMLBUILD_VAR_* that names no variable is a warning with the closest name; an unknown --set is an error with it', async () => {
    const file = await dir.write('t.yml', TYPED);
    const plan = await loadRecipe(file, { env: { UMLBUILD_VAR_HOSTT: 'x', UMLBUILD_VAR_ZZZZZZZZ: 'y', OTHER: 'z' } });
    assert.deepEqual(plan.warnings, ['UMLBUILD_VAR_HOSTT names no variable of this recipe, ignored (did you mean UMLBUILD_VAR_HOST?)', 'UMLBUILD_VAR_ZZZZZZZZ names no variable of this recipe, ignored']);
    const r = await cli(['validate', join(PROJECT, 'recipes/busybox.yml')], { UMLBUILD_VAR_HOSTNMAE: 'x' });
    assert.equal(r.exitCode, 0, r.stderr);
    assert.match(r.stderr, /^umlbuild: warning: UMLBUILD_VAR_HOSTNMAE names no variable of this recipe, ignored \(did you mean UMLBUILD_VAR_HOSTNAME\?\)$/m);
    const err = await rejection<RecipeError>(loadRecipe(file, { set: { netwrok: 'dhcp' } }));
    assert.match(err.message, /--set: netwrok: unknown variable "netwrok" .*; did you mean "network"\?/);
    assert.equal(closest('HOSTNMAE', ['hostname', 'size']), 'hostname');
    assert.equal(closest('completely_else', ['hostname', 'size']), undefined);
  });

  const accepted: [string, string, unknown][] = [
    ['count', '8', 8],
    ['count', '+3', 3],
    ['flag', 'yes', true],
    ['flag', 'OFF', false],
    ['disk', '2G', '2G'],
    ['word', 'xyz', 'xyz'],
    ['host', 'web-1.example.test', 'web-1.example.test'],
    ['label', 'a=b c', 'a=b c'],
    ['network', 'none', 'none'],
  ];
  for (const [name, value, want] of accepted) {
    it(`type of ${name} accepts ${JSON.stringify(value)} from --set and UMLBUILD_VAR_* (as ${JSON.stringify(want)})`, async () => {
      const file = await dir.write('t.yml', TYPED);
      assert.deepEqual((await loadRecipe(file, { set: { [name]: value } })).vars[name], want);
      assert.deepEqual((await loadRecipe(file, { env: { [`UMLBUILD_VAR_${name.toUpperCase()}`]: value } })).vars[name], want);
    });
  }

  const refused: [string, string, RegExp][] = [
    ['count', '9', /must be a whole number >= 1 and <= 8; "9" is not/],
    ['count', '2.5', /must be a whole number/],
    ['count', 'two', /must be a whole number/],
    ['flag', 'maybe', /must be a boolean/],
    ['disk', 'lots', /must be a size/],
    ['word', 'abc1', /must be text matching \/\^\(\?:\[a-z\]\+\)\$\/; "abc1" is not/],
    ['word', 'abc\nrm -rf /', /must be text matching/],
    ['host', 'a_b', /must be a hostname/],
    ['network', 'bogus', /must be one of dhcp, static, none; "bogus" is not/],
    ['network', '', /must be one of dhcp, static, none; "" is not/],
  ];
  for (const [name, value, want] of refused) {
    it(`type of ${name} refuses ${JSON.stringify(value)}, naming --set ${name} or UMLBUILD_VAR_${name.toUpperCase()}, not the recipe line`, async () => {
      const file = await dir.write('t.yml', TYPED);
      const e1 = await rejection<RecipeError>(loadRecipe(file, { set: { [name]: value } }));
      assert.ok(e1 instanceof RecipeError);
      const i1 = e1.issues.find((i) => i.message.startsWith(`variable "${name}"`))!;
      assert.deepEqual([i1.file, i1.line], [`--set ${name}`, undefined]);
      assert.match(i1.message, want);
      const env = `UMLBUILD_VAR_${name.toUpperCase()}`;
      const e2 = await rejection<RecipeError>(loadRecipe(file, { env: { [env]: value } }));
      const i2 = e2.issues.find((i) => i.message.startsWith(`variable "${name}"`))!;
      assert.deepEqual([i2.file, i2.line], [env, undefined]);
      assert.match(e2.message, new RegExp(`^${env}: variable "${name}" must be`, 'm'));
    });
  }

  it('network: static requires address and netmask, told where static came from', async () => {
    const file = await dir.write('t.yml', TYPED);
    const e1 = await rejection<RecipeError>(loadRecipe(file, { set: { network: 'static' } }));
    assert.match(e1.message, /^--set network: variable "network" is "static", which requires "address" and "netmask": give them with --set address=\.\.\. --set netmask=\.\.\.$/m);
    const e2 = await rejection<RecipeError>(loadRecipe(file, { env: { UMLBUILD_VAR_NETWORK: 'static' }, set: { address: '192.0.2.5' } }));
    assert.match(e2.message, /^UMLBUILD_VAR_NETWORK: variable "network" is "static", which requires "netmask": give it with --set netmask=\.\.\.$/m);
    const ok = await loadRecipe(file, { set: { network: 'static', address: '192.0.2.5', netmask: '24' } });
    assert.equal(ok.vars.network, 'static');
    // A recipe whose own default is static is told at its line.
    const own = await dir.write('own.yml', TYPED.replace('default: dhcp', 'default: static'));
    const e3 = await rejection<RecipeError>(loadRecipe(own));
    assert.match(e3.message, /own\.yml:10:14: variables\.network\.default: variable "network" is "static", which requires/);
  });

  it('a default of the wrong type is told at its line; one made from a --set variable names the flag', async () => {
    const file = await dir.write('d.yml', 'name: d\nvariables:\n  n: { default: ten, type: integer }\n  base: web\n  host: { default: "${base}_1", type: hostname }\nsteps:\n  - step: echo\n    message: ${n} ${host}\n');
    const err = await rejection<RecipeError>(loadRecipe(file, { set: { base: 'db' } }));
    assert.match(err.message, /d\.yml:3:17: variables\.n\.default: variable "n" must be a whole number; "ten" is not/);
    assert.match(err.message, /d\.yml:5:20: variables\.host\.default: variable "host" must be a hostname .*; "db_1" is not \(made from --set base\)/);
  });

  it('the shipped recipes type their variables: bookworm refuses --set network=bogus, size=lots, discard=maybe, backend=x', async () => {
    const recipe = join(PROJECT, 'recipes/bookworm.yml');
    const err = await rejection<RecipeError>(loadRecipe(recipe, { set: { network: 'bogus', size: 'lots', discard: 'maybe', backend: 'x' }, env: {} }));
    for (const n of ['network', 'size', 'discard', 'backend']) assert.match(err.message, new RegExp(`^--set ${n}: variable "${n}" must be`, 'm'));
    const st = await rejection<RecipeError>(loadRecipe(recipe, { set: { network: 'static' }, env: {} }));
    assert.match(st.message, /--set network: variable "network" is "static", which requires "address" and "netmask"/);
    for (const r of ['busybox.yml', 'from-dir.yml', 'from-tarball.yml']) {
      const e = await rejection<RecipeError>(loadRecipe(join(PROJECT, 'recipes', r), { set: { network: 'static', rootfs: '/x' }, env: {} }));
      assert.match(e.message, /--set network: variable "network" is "static", which requires "address" and "netmask"/, r);
    }
  });

  it('a step check on a value given with --set or UMLBUILD_VAR_* (found after loading) names the flag', async () => {
    const missing = join(dir.path, 'no-such-tree');
    const plan = await loadRecipe(join(PROJECT, 'recipes/from-dir.yml'), { set: { rootfs: missing }, env: {} });
    const e1 = await rejection<RecipeError>(verifyPlan(plan));
    assert.match(e1.message, /from-dir\.yml:\d+:\d+: steps\[1\]\.source: directory \S+no-such-tree does not exist \(value of variable "rootfs"; given by --set rootfs\)/);
    const viaEnv = await loadRecipe(join(PROJECT, 'recipes/from-dir.yml'), { env: { UMLBUILD_VAR_ROOTFS: missing } });
    const e2 = await rejection<RecipeError>(verifyPlan(viaEnv));
    assert.match(e2.message, /does not exist \(value of variable "rootfs"; given by UMLBUILD_VAR_ROOTFS\)/);
  });

  it("a variant's values are checked by the types too, at the variant", async () => {
    const file = await dir.write(
      'v.yml',
      [TYPED, 'variant_steps:', '  - step: echo', '    message: "${network} ${count}"', 'variants:', '  - name: a', '    variables: { network: static, count: 3 }', '  - name: b', '    variables: { network: bogus, count: "99" }', ''].join(
        '\n',
      ),
    );
    const err = await rejection<RecipeError>(loadRecipe(file));
    assert.match(err.message, /v\.yml:\d+:\d+: variants\[0\]\.variables\.network: variable "network" is "static", which requires "address" and "netmask"/);
    assert.match(err.message, /variants\[1\]\.variables\.network: variable "network" must be one of dhcp, static, none; "bogus" is not/);
    assert.match(err.message, /variants\[1\]\.variables\.count: variable "count" must be a whole number >= 1 and <= 8; "99" is not/);
    assert.doesNotMatch(err.message, /variants\[0\]\.variables\.count/);
  });

  it('a value refused by its type is told once, not again at every field it fills', async () => {
    const err = await rejection<RecipeError>(loadRecipe(join(PROJECT, 'recipes/busybox.yml'), { set: { hostname: 'a_b', size: 'lots' }, env: {} }));
    assert.deepEqual(
      err.issues.map((i) => i.file),
      ['--set hostname', '--set size'],
    );
  });

  it('every shipped recipe loads with its typed defaults (converted: discard is a boolean)', async () => {
    const recipes = (await readdir(join(PROJECT, 'recipes'))).filter((f) => f.endsWith('.yml'));
    for (const r of recipes) {
      const set: Record<string, string> = r.startsWith('from-') ? { rootfs: '/x' } : r === 'buster.yml' ? { mirror: 'http://archive.invalid/debian' } : {};
      const plan = await loadRecipe(join(PROJECT, 'recipes', r), { set, env: {} });
      assert.equal(plan.vars.network, 'dhcp', r);
      assert.equal(plan.vars.discard, true, r);
    }
  });
});
