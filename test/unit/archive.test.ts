/**
 * Archived suites (buster): the mirror and keyring come from debootstrap's
 * scripts for archived Debian releases, `--set mirror=` wins, `--dry-run`
 * shows both with their origin, and an unreachable archive fails validation
 * naming it. This machine cannot reach Debian's archive: every test here uses
 * a fake scripts directory (UMLBUILD_TEST_DEBOOTSTRAP_SCRIPTS) whose mirror is
 * a server on 127.0.0.1 that the test runs, or a closed port there.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { symlink } from 'node:fs/promises';
import { archiveDefaults, parseDebootstrapScript } from '../../src/host/archive.js';
import { bootstrapSource } from '../../src/steps/bootstrap-source.js';
import { exec } from '../../src/host/exec.js';
import { BIN, PROJECT, tempDir, type TempDir } from '../helpers.js';

const BUSTER = join(PROJECT, 'recipes/buster.yml');
const script = (mirror: string, keyring: string) => `mirror_style release\ndownload_style apt\ndefault_mirror ${mirror}\nkeyring ${keyring}\nforce_md5\n`;
// Ubuntu's scripts set default_mirror per architecture, indented inside `case`.
const UBUNTU = 'case $ARCH in\n  amd64|i386)\n\tdefault_mirror http://ubuntu.example.test/ubuntu\n\t;;\nesac\nkeyring /usr/share/keyrings/debian-archive-removed-keys.gpg\n';

describe('archived suites: mirror and keyring from debootstrap', function () {
  this.timeout(30000);
  let dir: TempDir;
  let scripts: string;
  let keyring: string;
  let server: Server;
  let archive: string;
  const requests: string[] = [];
  const saved = process.env.UMLBUILD_TEST_DEBOOTSTRAP_SCRIPTS;

  before(async () => {
    // A stand-in archive: it has buster, and nothing else.
    server = createServer((req, res) => {
      requests.push(`${req.method} ${req.url}`);
      res.statusCode = /\/dists\/buster\/Release$/.test(req.url ?? '') ? 200 : 404;
      res.end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    archive = `http://127.0.0.1:${(server.address() as AddressInfo).port}/debian`;
  });
  after(async () => {
    await new Promise((r) => server.close(r));
  });
  beforeEach(async () => {
    dir = await tempDir();
    scripts = join(dir.path, 'scripts');
    keyring = await dir.write('keyrings/debian-archive-removed-keys.gpg', 'stand-in keyring\n');
    await dir.write('scripts/bookworm', script('http://current.example.test/debian', join(dir.path, 'keyrings/debian-archive-keyring.gpg')));
    await dir.write('scripts/dapper', UBUNTU);
    await dir.write('scripts/etch', script(archive, keyring));
    await symlink('etch', join(scripts, 'aaa-link'));
    process.env.UMLBUILD_TEST_DEBOOTSTRAP_SCRIPTS = scripts;
  });
  afterEach(async () => {
    if (saved === undefined) delete process.env.UMLBUILD_TEST_DEBOOTSTRAP_SCRIPTS;
    else process.env.UMLBUILD_TEST_DEBOOTSTRAP_SCRIPTS = saved;
    await dir.remove();
  });

  const cli = (args: string[], env: Record<string, string> = {}) => exec(BIN, args, { reject: false, env: { PATH: process.env.PATH!, UMLBUILD_TEST_DEBOOTSTRAP_SCRIPTS: scripts, ...env } });

  it('reads only top-level default_mirror and keyring lines', () => {
    assert.deepEqual(parseDebootstrapScript(script('http://a.example.test/debian', '/k.gpg')), { mirror: 'http://a.example.test/debian', keyring: '/k.gpg' });
    assert.equal(parseDebootstrapScript(UBUNTU).mirror, undefined);
  });

  it("takes the archive from the script whose keyring is Debian's removed keys, saying which file", async () => {
    const d = await archiveDefaults(scripts);
    assert.deepEqual(d.mirror, { value: archive, from: `default_mirror in ${join(scripts, 'etch')}, debootstrap's script for archived Debian releases` });
    assert.deepEqual(d.keyring, { value: keyring, from: `keyring in ${join(scripts, 'etch')}, debootstrap's script for archived Debian releases` });
    const none = await archiveDefaults(join(dir.path, 'no-such-dir'));
    assert.equal(none.mirror, undefined);
    assert.match(none.problem!, /no debootstrap scripts in .*no-such-dir \(package debootstrap\)/);
  });

  it('an archived suite: archive mirror and removed-keys keyring by default; a given mirror or keyring wins', async () => {
    const d = await bootstrapSource({ suite: 'buster', mirror: '', archived: true });
    assert.equal(d.mirror?.value, archive);
    assert.match(d.mirror!.from, /etch.*\(buster is archived\)$/);
    assert.equal(d.keyring?.value, keyring);
    const set = await bootstrapSource({ suite: 'buster', mirror: 'http://mine.example.test/debian', archived: true });
    assert.deepEqual(set.mirror, { value: 'http://mine.example.test/debian', from: "the step's mirror option" });
    assert.equal(set.keyring?.value, keyring, 'another archive mirror still needs the removed keys');
    const own = await bootstrapSource({ suite: 'buster', mirror: '', keyring: '/my/keys.gpg', archived: true });
    assert.deepEqual(own.keyring, { value: '/my/keys.gpg', from: "the step's keyring option" });
    const current = await bootstrapSource({ suite: 'bookworm', mirror: 'http://m.example.test/debian' });
    assert.equal(current.keyring, undefined, "a current suite keeps debootstrap's own keyring");
  });

  it('recipes/buster.yml --dry-run needs no flags and shows the mirror and keyring with their origin', async () => {
    const r = await cli([BUSTER, '--dry-run', '--out', join(dir.path, 'out')]);
    assert.equal(r.exitCode, 0, r.stderr);
    assert.ok(
      r.stdout.includes(
        `    resolved:\n      backend: "mmdebstrap (auto: installed)"\n      mirror: ${archive} (default_mirror in ${join(scripts, 'etch')}, debootstrap's script for archived Debian releases (buster is archived))\n      keyring: ${keyring} (keyring in ${join(scripts, 'etch')}`,
      ),
      r.stdout,
    );
    assert.ok(requests.includes('HEAD /debian/dists/buster/Release'), 'validation asked the archive for buster');
  });

  it('--set mirror= overrides the archive', async () => {
    const other = archive.replace(/\/debian$/, '/other-archive');
    const r = await cli([BUSTER, '--dry-run', '--set', `mirror=${other}`, '--out', join(dir.path, 'out')]);
    assert.equal(r.exitCode, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^ {6}mirror: ${other} \\(the step's mirror option\\)$`, 'm'));
    assert.match(r.stdout, new RegExp(`^ {6}keyring: ${keyring} \\(keyring in `, 'm'));
  });

  it('an unreachable archive fails validation with exit 2, naming the mirror and where it came from', async () => {
    // A port that was just free on 127.0.0.1: connection refused.
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    await dir.write('scripts/etch', script(`http://127.0.0.1:${port}/debian`, keyring));
    const r = await cli(['validate', BUSTER]);
    assert.equal(r.exitCode, 2, r.stderr);
    assert.match(
      r.stderr,
      new RegExp(`steps\\[1\\]\\.mirror: cannot reach the mirror http://127\\.0\\.0\\.1:${port}/debian for suite "buster": .*ECONNREFUSED.* \\(mirror from default_mirror in ${join(scripts, 'etch')}.*; --set mirror=URL gives another\\)`),
    );
    assert.doesNotMatch(r.stderr, /^\s+at /m);
  });

  it('without debootstrap scripts that name an archive, says to set the mirror', async () => {
    const r = await cli(['validate', BUSTER], { UMLBUILD_TEST_DEBOOTSTRAP_SCRIPTS: join(dir.path, 'none') });
    assert.equal(r.exitCode, 2, r.stderr);
    assert.match(r.stderr, /steps\[1\]\.mirror: buster is archived \(no longer on current Debian mirrors\) and no archive mirror was found: no debootstrap scripts in .*; set the recipe's mirror variable \(--set mirror=URL\)/);
  });

  it('a missing removed-keys keyring is reported with its origin and package', async () => {
    await dir.write('scripts/etch', script(archive, join(dir.path, 'gone/debian-archive-removed-keys.gpg')));
    const r = await cli(['validate', BUSTER]);
    assert.equal(r.exitCode, 2, r.stderr);
    assert.match(r.stderr, /steps\[1\]\.keyring: keyring \S+gone\/debian-archive-removed-keys\.gpg \(keyring in \S+etch, .*\) does not exist \(package debian-archive-keyring\)/);
  });
});
