import assert from 'node:assert/strict';
import { RecipeError } from '../../src/errors.js';
import { loadRecipe } from '../../src/recipe/load.js';
import { verifyPlan } from '../../src/runner/verify.js';
import { rejection, tempDir, type TempDir } from '../helpers.js';

describe('loadRecipe', () => {
  let dir: TempDir;
  beforeEach(async () => {
    dir = await tempDir();
  });
  afterEach(() => dir.remove());

  it('builds a plan with variables resolved and defaults applied', async () => {
    const file = await dir.write('r.yml', ['name: demo', 'variables:', '  size: 64M', '  label: disk-${size}', 'steps:', '  - step: sparse-disk', '    size: ${size}', '  - step: mkfs', '    label: ${label}', ''].join('\n'));
    const plan = await loadRecipe(file);
    assert.equal(plan.name, 'demo');
    assert.equal(plan.output, 'demo');
    assert.deepEqual(
      plan.steps.map((s) => s.kind),
      ['sparse-disk', 'mkfs'],
    );
    assert.deepEqual(plan.steps[1]!.options, { fs: 'ext4', label: 'disk-64M', options: [], discard: false });
    assert.equal(plan.steps[1]!.line, 8);
  });

  it('reports every problem at once with file:line:col and key path', async () => {
    const file = await dir.write(
      'bad.yml',
      [
        'name: bad', //                         1
        'variables:', //                        2
        '  size: 64M', //                       3
        'steps:', //                            4
        '  - step: sparse-disk', //             5
        '    size: ${sise}', //                 6  undefined variable
        '  - step: mkfs', //                    7
        '    fs: ntfs', //                      8  bad enum
        '    colour: blue', //                  9  unknown key
        '  - step: teleport', //               10  unknown step
        '  - step: sparse-disk', //            11
        '    size: -3G', //                    12  bad size
        '',
      ].join('\n'),
    );
    const err = await rejection<RecipeError>(loadRecipe(file));
    assert.ok(err instanceof RecipeError);
    assert.equal(err.exitCode, 2);
    const got = err.issues.map((i) => `${i.line}:${i.col} ${i.path}`);
    assert.deepEqual(got, ['6:11 steps[0].size', '8:9 steps[1].fs', '9:5 steps[1].colour', '10:11 steps[2].step', '12:11 steps[3].size']);
    assert.match(err.message, /bad\.yml:6:11: steps\[0\]\.size: undefined variable "sise" \(defined: size\)/);
    assert.match(err.message, /bad\.yml:9:5: steps\[1\]\.colour: unknown key "colour"/);
    assert.match(err.message, /unknown step kind "teleport" \(one of: sparse-disk, mkfs, /);
    assert.match(err.message, /cannot parse size "-3G"/);
  });

  it('reports YAML syntax errors with their position', async () => {
    const file = await dir.write('syntax.yml', 'name: x\nsteps:\n  - step: echo\n    message: [unclosed\n');
    const err = await rejection<RecipeError>(loadRecipe(file));
    assert.ok(err instanceof RecipeError);
    assert.match(err.message, /syntax\.yml:\d+:\d+: YAML: /);
  });

  it('inherits from extends: and lets the child override variables', async () => {
    await dir.write('base/common.yml', ['name: common', 'variables:', '  who: base', '  greeting: hello ${who}', 'output: out-${who}', 'steps:', '  - step: echo', '    message: ${greeting}', ''].join('\n'));
    const child = await dir.write('child.yml', ['name: child', 'extends: base/common.yml', 'variables:', '  who: child', ''].join('\n'));
    const plan = await loadRecipe(child);
    assert.equal(plan.name, 'child');
    assert.equal(plan.output, 'out-child');
    assert.deepEqual(plan.steps[0]!.options, { message: 'hello child', seconds: 0 });
    assert.match(plan.steps[0]!.file, /base\/common\.yml$/);
  });

  it('extends: a file that is not a recipe (a stand-in shadow file, a broken file) is named with file:line:col, never quoted', async () => {
    const secret = 'S3CRET-HASH-zq9';
    await dir.write('shadow', `root:$6$salt$${secret}:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\n`);
    await dir.write('broken.yml', `name: x\n  ${secret}: [\n`);
    for (const [target, why] of [
      ['shadow', /it has none of the keys of a recipe/],
      ['broken.yml', /it does not parse as a recipe \(\S*broken\.yml:1:7\)/],
    ] as const) {
      const child = await dir.write('child.yml', `name: child\nextends: ${target}\nsteps: [{step: echo, message: hi}]\n`);
      const err = await rejection<RecipeError>(loadRecipe(child));
      assert.ok(err instanceof RecipeError);
      assert.match(err.message, /child\.yml:2:10: extends: cannot extend /);
      assert.match(err.message, why);
      assert.doesNotMatch(err.message, new RegExp(`${secret}|root:|daemon`), 'no line of the file is quoted');
    }
  });

  it('rejects circular extends', async () => {
    await dir.write('a.yml', 'name: a\nextends: b.yml\nsteps: [{step: echo, message: a}]\n');
    const b = await dir.write('b.yml', 'name: b\nextends: a.yml\n');
    const err = await rejection<RecipeError>(loadRecipe(b));
    assert.match(err.message, /circular extends/);
  });

  it('takes overrides from --set over UMLBUILD_VAR_* over defaults, typed like the default', async () => {
    const file = await dir.write('v.yml', ['name: v', 'variables:', '  host: one', '  count: 1', '  flag: false', '  list: [a]', 'steps:', '  - step: echo', '    message: ${host}-${count}-${flag}-${list}', ''].join('\n'));
    const plan = await loadRecipe(file, { set: { host: 'three' }, env: { UMLBUILD_VAR_HOST: 'two', UMLBUILD_VAR_COUNT: '5', umlbuild_var_flag: 'x', UMLBUILD_VAR_FLAG: 'true', UMLBUILD_VAR_LIST: 'b,c' } });
    assert.equal(plan.vars.host, 'three');
    assert.equal(plan.vars.count, 5);
    assert.equal(plan.vars.flag, true);
    assert.deepEqual(plan.vars.list, ['b', 'c']);
  });

  it('rejects --set of a variable the recipe does not define', async () => {
    const file = await dir.write('v.yml', 'name: v\nvariables: {host: a}\nsteps: [{step: echo, message: hi}]\n');
    const err = await rejection<RecipeError>(loadRecipe(file, { set: { hots: 'x' } }));
    assert.match(err.message, /--set: hots: unknown variable "hots" \(the recipe defines: host\)/);
  });

  it('says how to give a required variable, at its definition', async () => {
    const file = await dir.write('req.yml', ['name: req', 'variables:', '  mirror:', '    required: true', '    description: an archive mirror', 'steps: [{step: echo, message: "${mirror}"}]', ''].join('\n'));
    const err = await rejection<RecipeError>(loadRecipe(file));
    assert.match(err.message, /req\.yml:3:3: variables\.mirror: variable "mirror" is required: an archive mirror; give it with --set mirror=\.\.\. or UMLBUILD_VAR_MIRROR/);
  });

  it('rejects unknown top-level keys and a recipe without steps', async () => {
    const file = await dir.write('top.yml', 'name: t\nstepz: []\n');
    const err = await rejection<RecipeError>(loadRecipe(file));
    assert.match(err.message, /top\.yml:2:1: stepz: unknown key "stepz"/);
    assert.match(err.message, /a recipe needs at least one step/);
  });

  it('marks password-like variables secret', async () => {
    const file = await dir.write('s.yml', 'name: s\nvariables: {root_password: hunter22, hostname: h, api: {default: x, secret: true}}\nsteps: [{step: echo, message: hi}]\n');
    const plan = await loadRecipe(file);
    assert.deepEqual([...plan.secretVars].sort(), ['api', 'root_password']);
  });

  it('tune: uml adds a tune-uml step before the first unmount', async () => {
    const file = await dir.write('t.yml', 'name: t\ntune: uml\nsteps:\n  - step: sparse-disk\n    size: 16M\n  - step: mkfs\n  - step: mount\n  - step: unmount\n');
    const plan = await loadRecipe(file);
    assert.deepEqual(
      plan.steps.map((s) => s.kind),
      ['sparse-disk', 'mkfs', 'mount', 'tune-uml', 'unmount'],
    );
    const none = await loadRecipe(await dir.write('n.yml', 'name: n\nextends: t.yml\ntune: none\n'));
    assert.ok(!none.steps.some((s) => s.kind === 'tune-uml'));
  });

  it('validates the launch section and reports it with its location', async () => {
    const file = await dir.write('l.yml', ['name: l', 'launch:', '  networks:', '    - device: vec0', '      transport: gre', '      dst: 192.0.2.9', '      rx_key: 5', 'steps: [{step: echo, message: hi}]', ''].join('\n'));
    const err = await rejection<RecipeError>(loadRecipe(file));
    assert.match(err.message, /l\.yml:4:7: launch\.networks\[0\]\.tx_key: GRE rx_key and tx_key go together/);
  });

  it('requires the launch line and the interfaces file to use the same device', async () => {
    const file = await dir.write(
      'n.yml',
      [
        'name: n',
        'variables: {netdev: vec0, network: dhcp, hostname: h, address: "", netmask: "", gateway: ""}',
        'launch:',
        '  networks:',
        '    - {device: vec1, transport: tap, ifname: tap0}',
        'steps:',
        '  - step: template',
        '    template: interfaces',
        '',
      ].join('\n'),
    );
    const err = await rejection<RecipeError>(loadRecipe(file));
    assert.match(err.message, /n\.yml:5:16: launch\.networks\[0\]\.device: the launch line creates vec1 but the interfaces template configures netdev=vec0/);
  });

  it('--variant hostfs replaces the image steps with a directory and checks the result as hostfs', async () => {
    const file = await dir.write('h.yml', 'name: h\nsteps:\n  - step: sparse-disk\n    size: 16M\n  - step: mkfs\n  - step: mount\n  - step: echo\n    message: in\n  - step: unmount\n');
    const plan = await loadRecipe(file, { variant: 'hostfs', owner: 'nobody' });
    assert.deepEqual(
      plan.steps.map((s) => s.kind),
      ['directory', 'echo'],
    );
    assert.equal(plan.rootfs, 'hostfs');
    assert.equal(plan.owner, 'nobody');
    assert.equal(plan.test.root, 'hostfs');
  });

  it('--variant hostfs of a directory-first recipe: its directory step becomes the hostfs tree and pack goes', async () => {
    const file = await dir.write('hd.yml', 'name: hd\nsteps:\n  - step: directory\n    tmpfs: true\n  - step: echo\n    message: in\n  - step: pack\n    size: 16M\n');
    const plan = await loadRecipe(file, { variant: 'hostfs' });
    assert.deepEqual(
      plan.steps.map((s) => [s.kind, s.title]),
      [
        ['directory', 'Create root directory (hostfs)'],
        ['echo', 'Echo in'],
      ],
    );
    assert.deepEqual(plan.steps[0]!.options, { tmpfs: false, fs: 'ext4', hostfs: true });
    assert.equal(plan.rootfs, 'hostfs');
  });

  it('plans COW variants with their own variables and rejects steps that need the image', async () => {
    const file = await dir.write(
      'v.yml',
      [
        'name: v',
        'variables: {hostname: base, role: none}',
        'variant_steps:',
        '  - step: echo',
        '    message: ${hostname}',
        'variants:',
        '  - name: a',
        '    variables: {hostname: a-host}',
        '  - name: b',
        '    variables: {hostname: b-host, colour: red}',
        '    steps:',
        '      - step: mkfs',
        'steps: [{step: echo, message: base}]',
        '',
      ].join('\n'),
    );
    const err = await rejection<RecipeError>(loadRecipe(file));
    assert.match(err.message, /v\.yml:10:35: variants\[1\]\.variables\.colour: unknown variable "colour"/);
    assert.match(err.message, /v\.yml:12:15: variants\[1\]\.steps\[0\]\.step: a mkfs step cannot be used here \(one of: template, overlay, run, echo, fail\)/);
    const ok = await loadRecipe(await dir.write('ok.yml', ['name: ok', 'extends: v.yml', 'variants:', '  - name: a', '    variables: {hostname: a-host}', ''].join('\n')));
    assert.deepEqual(
      ok.variants.map((v) => [v.name, v.vars.hostname, (v.steps[0]!.options as { message: string }).message]),
      [['a', 'a-host', 'a-host']],
    );
  });

  it("verifies variant steps too, with the variant's variables, located in the recipe", async () => {
    const file = await dir.write(
      'vv.yml',
      [
        'name: vv',
        'variables: {hostname: base}',
        'variants:',
        '  - name: a',
        '    variables: {hostname: a}',
        '    steps:',
        '      - step: template',
        '        template: no-such.ejs',
        '        dest: /etc/x',
        'steps: [{step: echo, message: base}]',
        '',
      ].join('\n'),
    );
    const err = await rejection<RecipeError>(verifyPlan(await loadRecipe(file)));
    assert.ok(err instanceof RecipeError);
    assert.match(err.message, /vv\.yml:8:19: variants\[0\]\.steps\[0\]\.template: template file \S+no-such\.ejs does not exist/);
  });
});
