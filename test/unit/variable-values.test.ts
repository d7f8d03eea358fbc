/**
 * Variable values are validated by what they feed (issue 11, 4): output
 * names stay in --out, lines stay lines in /etc/hosts, interfaces and
 * shadow, a secret stays out of names and the manifest, templates write
 * values as they are. Stand-in victims live in each test's temp dir.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { RecipeError } from '../../src/errors.js';
import { exec } from '../../src/host/exec.js';
import { loadRecipe } from '../../src/recipe/load.js';
import { isCryptHash, isHostname } from '../../src/model/values.js';
import { outputPaths } from '../../src/runner/outputs.js';
import { renderTemplate } from '../../src/templates/render.js';
import { BIN, rejection, tempDir, type TempDir } from '../helpers.js';

const cli = (args: string[], env: Record<string, string> = {}) => exec(BIN, args, { reject: false, env: { ...env, PATH: process.env.PATH! } });

describe('variable values are validated by what they feed', function () {
  this.timeout(30000);
  let dir: TempDir;
  beforeEach(async () => {
    dir = await tempDir();
  });
  afterEach(() => dir.remove());

  it('output: ${hostname} with --set hostname=../x or an absolute path is refused (exit 2) and nothing is written outside --out', async () => {
    const file = await dir.write('r.yml', 'name: r\nvariables: {hostname: uml}\noutput: ${hostname}\nsteps:\n  - step: sparse-disk\n    size: 16M\n');
    const out = join(dir.path, 'out');
    for (const [value, victim] of [
      ['../victim', join(dir.path, 'victim')],
      [join(dir.path, 'abs-victim'), join(dir.path, 'abs-victim')],
    ] as const) {
      const r = await cli([file, '--out', out, '--set', `hostname=${value}`]);
      assert.equal(r.exitCode, 2, r.stdout + r.stderr);
      assert.match(r.stderr, /r\.yml:3:9: output: output ".*": must be a file name \(no "\/".*\(value of variable "hostname"; given by --set hostname\)/);
      assert.doesNotMatch(r.stderr, /^\s+at /m);
      for (const ext of ['.img', '.sh', '.manifest.json']) assert.equal(existsSync(`${victim}${ext}`), false, `${victim}${ext} was written`);
    }
    assert.deepEqual(await readdir(dir.path), ['r.yml']);
  });

  it('output paths stay in --out whatever reaches them', () => {
    assert.equal(outputPaths('/o', 'name').image, '/o/name.img');
    for (const bad of ['../x', '/abs/x', 'a/b', '..', '.']) assert.throws(() => outputPaths('/o', bad), /is not a file name in \/o/, bad);
  });

  it('an output that is not a file name in the recipe itself is refused', async () => {
    const file = await dir.write('r.yml', 'name: r\noutput: sub/../../x\nsteps:\n  - step: sparse-disk\n    size: 16M\n');
    const err = await rejection<RecipeError>(loadRecipe(file));
    assert.match(err.message, /output: output "sub\/\.\.\/\.\.\/x": must be a file name/);
  });

  const hostsRecipe = [
    'name: r',
    'variables: {hostname: uml, address: "", netmask: "", gateway: "", network: dhcp, netdev: vec0, root_password: {default: pw, secret: true}, root_hash: ""}',
    'test: {hostname: "${hostname}", password: "${root_password}"}',
    'steps:',
    '  - step: directory',
    '  - step: template',
    '    template: hosts',
    '  - step: template',
    '    template: interfaces',
    '  - step: password',
    '    users: [{user: root, password: "${root_password}", hash: "${root_hash}"}]',
    '',
  ].join('\n');

  const cases: [string, string, RegExp][] = [
    ['hostname', 'h\n10.0.0.1 bank.example', /variable "hostname": not a valid hostname \(RFC 1123.*\(given by --set hostname\)/],
    ['hostname', 'a'.repeat(64), /variable "hostname": not a valid hostname/],
    ['address', '10.0.0.2\n    pre-up touch /victim', /steps\[1\]: variable "address": not an IP address \(given by --set address\)/],
    ['netmask', '255.255.255.0\n    pre-up touch /victim', /steps\[2\]: variable "netmask": not a netmask .*\(given by --set netmask\)/],
    ['gateway', '10.0.0.1; touch /victim', /steps\[2\]: variable "gateway": not an IP address \(given by --set gateway\)/],
    ['root_password', 'pw\nhacker::0:0:::::', /steps\[3\]\.users\[0\]\.password: a password may hold no newline, control character or ":" \(value of variable "root_password"; given by --set root_password\)/],
    ['root_hash', '$6$x$y\nhacker::0:0:::::', /steps\[3\]\.users\[0\]\.hash: does not look like a crypt\(3\) hash .*\(value of variable "root_hash"; given by --set root_hash\)/],
    ['root_hash', 'x:0:0', /users\[0\]\.hash: does not look like a crypt/],
  ];
  for (const [name, value, expected] of cases) {
    it(`--set ${name}=${JSON.stringify(value)} is refused before anything is built, naming the variable and --set`, async () => {
      const file = await dir.write('r.yml', hostsRecipe);
      const r = await cli([file, '--out', join(dir.path, 'out'), '--set', `${name}=${value}`]);
      assert.equal(r.exitCode, 2, r.stdout + r.stderr);
      assert.match(r.stderr, expected);
      assert.doesNotMatch(r.stderr, /pw\\nhacker|^\s+at /m);
      assert.deepEqual(await readdir(dir.path), ['r.yml']);
    });
  }

  it('the same through UMLBUILD_VAR_* names the environment variable', async () => {
    const file = await dir.write('r.yml', hostsRecipe);
    const err = await rejection<RecipeError>(loadRecipe(file, { env: { UMLBUILD_VAR_ADDRESS: '10.0.0.2\npre-up touch /victim' } }));
    assert.match(err.message, /variable "address": not an IP address \(given by UMLBUILD_VAR_ADDRESS\)/);
  });

  it('checks follow the field, not the variable name: a renamed variable feeding test.hostname or template data is checked', async () => {
    const file = await dir.write(
      'r.yml',
      ['name: r', 'variables: {machine: uml}', 'test: {hostname: "${machine}"}', 'steps:', '  - step: directory', '  - step: template', '    template: hostname', '    data: {hostname: "${machine}"}', ''].join('\n'),
    );
    const err = await rejection<RecipeError>(loadRecipe(file, { set: { machine: 'x\ny' } }));
    assert.match(err.message, /test\.hostname: not a valid hostname .*\(value of variable "machine"; given by --set machine\)/);
    assert.match(err.message, /steps\[1\]: data\.hostname: not a valid hostname.*\(value of variable "machine"; given by --set machine\)/);
    const ok = await loadRecipe(file, { set: { machine: 'web-1.example.test' } });
    assert.equal(ok.test.hostname, 'web-1.example.test');
  });

  it('a static network with valid values and a real crypt hash passes', async () => {
    const file = await dir.write('r.yml', hostsRecipe);
    const hash = (await exec('openssl', ['passwd', '-6', '-stdin'], { input: 'pw\n' })).stdout.trim();
    const plan = await loadRecipe(file, { set: { network: 'static', address: '192.0.2.10', netmask: '24', gateway: '192.0.2.1', hostname: 'web1', root_hash: hash } });
    assert.equal(plan.vars.address, '192.0.2.10');
  });

  it('--set hostname=${root_password} is literal: the secret appears in no file name, manifest or output', async () => {
    const secret = 'S3cret-Pw-77';
    const file = await dir.write('r.yml', 'name: r\nvariables: {label: disk, root_password: {default: x, secret: true}}\noutput: ${label}\nsteps:\n  - step: sparse-disk\n    size: 16M\n');
    const out = join(dir.path, 'out');
    const r = await cli([file, '--out', out, '--set', `root_password=${secret}`, '--set', 'label=${root_password}', '--renderer', 'simple']);
    assert.equal(r.exitCode, 0, r.stdout + r.stderr);
    assert.doesNotMatch(r.stdout + r.stderr, new RegExp(secret));
    const files = await readdir(out);
    assert.equal(files.length, 4, 'image, its block map, launch script, manifest');
    for (const f of files) {
      assert.doesNotMatch(f, new RegExp(secret));
      if (!f.endsWith('.img')) assert.doesNotMatch(await readFile(join(out, f), 'utf8'), new RegExp(secret));
    }
    // As a hostname it is not a hostname at all.
    const hosts = await dir.write('h.yml', hostsRecipe);
    const h = await cli([hosts, '--out', out, '--set', `root_password=${secret}`, '--set', 'hostname=${root_password}']);
    assert.equal(h.exitCode, 2);
    assert.match(h.stderr, /variable "hostname": not a valid hostname/);
    assert.doesNotMatch(h.stdout + h.stderr, new RegExp(secret));
  });

  it('a secret variable may not flow into a non-secret field, even through another variable', async () => {
    const file = await dir.write(
      'r.yml',
      [
        'name: r',
        'variables: {root_password: {default: pw, secret: true}, hostname: "${root_password}", label: "x-${root_password}"}',
        'output: ${label}',
        'launch: {umid: "${root_password}"}',
        'test: {password: "${root_password}"}',
        'steps:',
        '  - step: sparse-disk',
        '    size: 16M',
        '  - step: template',
        '    template: hostname',
        '  - step: template',
        '    template: hosts',
        '    data: {hostname: "h-${root_password}"}',
        '',
      ].join('\n'),
    );
    const err = await rejection<RecipeError>(loadRecipe(file));
    assert.match(err.message, /steps\[2\]: secret variable "root_password" flows into data\.hostname, which this template writes in the clear/);
    assert.match(err.message, /output: secret variable "root_password" flows through variable "label" into output, which is not a secret field/);
    assert.match(err.message, /launch\.umid: secret variable "root_password" flows into launch\.umid/);
    assert.match(err.message, /steps\[1\]: secret variable "root_password" flows into variable "hostname", which this template writes in the clear/);
    assert.doesNotMatch(err.message, /test\.password/);
  });

  it('templates write values as they are, not HTML-escaped', async () => {
    const file = await dir.write('motd.ejs', 'Welcome to <%= description %>\n');
    assert.equal(await renderTemplate(file, { description: 'Tom & Jerry\'s "box" <1>' }), 'Welcome to Tom & Jerry\'s "box" <1>\n');
  });

  it('hostnames per RFC 1123 and crypt strings by their alphabet', () => {
    for (const h of ['uml', 'web-1', 'a.b.c', '1host', 'x'.repeat(63)]) assert.ok(isHostname(h), h);
    for (const h of ['', '-a', 'a-', 'a..b', 'a_b', '../x', '/abs', 'a\nb', 'x'.repeat(64), `${'a.'.repeat(127)}ab`]) assert.ok(!isHostname(h), h);
    const md5 = '$1$abcdefgh$abcdefghijklmnopqrstuv';
    const sha = (n: 5 | 6, len: number) => `$${n}$saltsalt$${'a'.repeat(len)}`;
    for (const c of [md5, sha(5, 43), sha(6, 86), `$y$j9T$salt$${'a'.repeat(43)}`, `$2b$12$${'a'.repeat(53)}`, 'abcdefghijklm', '!', '*', `!${sha(6, 86)}`]) assert.ok(isCryptHash(c), c);
    for (const c of ['', 'plain', sha(6, 85), `${sha(6, 86)}\n`, `$6$s:x$${'a'.repeat(86)}`, `$6$s$${'a'.repeat(85)}-`, '$9$x$y', `$2b$12$${'a'.repeat(52)}`]) assert.ok(!isCryptHash(c), JSON.stringify(c));
  });
});
