/**
 * Proxies and package caches, the real thing: an apt-cacher-ng started by
 * this test on 127.0.0.1 (its own config, cache and log directories in the
 * test's temp dir), and cold builds of a small directory-first recipe that
 * fetch through it: once with the caller's http_proxy (debootstrap), once
 * with `--set apt_proxy=` holding credentials (mmdebstrap). Its access log
 * shows the suite's Release files and the .debs, and the `run` step's
 * apt-get in the chroot; the image holds no proxy setting, and the
 * credentials are in no log, plan, manifest or image. The mirror is the
 * host's (host/mirror.ts).
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { createServer, connect } from 'node:net';
import { join } from 'node:path';
import { exec, spawn, type Spawned } from '../../src/host/exec.js';
import { detectMirror } from '../../src/host/mirror.js';
import { BIN, tempDir, type TempDir } from '../helpers.js';
import { skipBecause } from '../support/skip.js';
import { requireRootWith, umlbuildMounts } from './host-state.js';

/** apt-cacher-ng keeps its port in a signed 16-bit number: a port above 32767 fails to bind. */
async function freePort(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const port = 20000 + Math.floor(Math.random() * 12000);
    const free = await new Promise<boolean>((resolve) => {
      const s = createServer();
      s.once('error', () => resolve(false));
      s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
    });
    if (free) return port;
  }
  throw new Error('no free port between 20000 and 32000');
}

async function listening(port: number, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    const ok = await new Promise<boolean>((resolve) => {
      const c = connect(port, '127.0.0.1', () => {
        c.destroy();
        resolve(true);
      });
      c.once('error', () => resolve(false));
    });
    if (ok) return true;
    await new Promise((r) => setTimeout(r, 200));
  }
  return false;
}

interface Cache {
  port: number;
  server: Spawned;
  logDir: string;
  /** The access log's requested paths (`time|I/O|bytes|client|path`), in order. */
  requests(): Promise<string[]>;
}

async function startCache(dir: string): Promise<Cache> {
  const conf = join(dir, 'conf');
  const cacheDir = join(dir, 'cache');
  const logDir = join(dir, 'log');
  for (const d of [conf, cacheDir, logDir]) await mkdir(d, { recursive: true });
  // A config directory of its own (it needs one *.conf): no remapping, it proxies any http URL.
  await writeFile(join(conf, 'acng.conf'), '# umlbuild test: everything on the command line\n');
  const port = await freePort();
  const server = spawn('apt-cacher-ng', ['-c', conf, 'ForeGround=1', `Port=${port}`, 'BindAddress=127.0.0.1', `CacheDir=${cacheDir}`, `LogDir=${logDir}`, `SocketPath=${join(dir, 'socket')}`, `PidFile=${join(dir, 'pid')}`]);
  server.child.stdout?.resume();
  server.child.stderr?.resume();
  if (!(await listening(port, 15000))) {
    server.child.kill('SIGKILL');
    throw new Error(`apt-cacher-ng did not listen on 127.0.0.1:${port}`);
  }
  const log = join(logDir, 'apt-cacher.log');
  return {
    port,
    server,
    logDir,
    requests: async () =>
      (existsSync(log) ? await readFile(log, 'utf8') : '')
        .split('\n')
        .map((l) => l.split('|'))
        .filter((f) => f.length >= 5)
        .map((f) => f[4]!),
  };
}

/** The log is written as requests end: wait until `pred` holds of the requests after `from`. */
async function logged(cache: Cache, from: number, pred: (r: string[]) => boolean): Promise<string[]> {
  let r: string[] = [];
  for (let i = 0; i < 50; i++) {
    r = (await cache.requests()).slice(from);
    if (pred(r)) break;
    await new Promise((res) => setTimeout(res, 200));
  }
  return r;
}

const recipe = (backend: 'debootstrap' | 'mmdebstrap', apt_proxy: boolean) => `name: proxied-${backend}
variables:
  apt_proxy: ""
${apt_proxy ? 'apt_proxy: ${apt_proxy}\n' : ''}steps:
  - step: directory
  - step: debootstrap
    suite: bookworm
    variant: minbase
    backend: ${backend}
  # apt in the chroot fetches through the same proxy (the mirror comes from the sources.list the bootstrap wrote)
  - step: run
    command: apt-get update && apt-get install -y --no-install-recommends hello
  - step: pack
    size: 1G
    label: rootfs
`;

/** Every file of the image's /etc (debugfs rdump) with a proxy setting, and whether the image's bytes hold `needles`. */
async function proxyTraces(image: string, into: string, needles: string[]): Promise<string[]> {
  await mkdir(into, { recursive: true });
  await exec('debugfs', ['-R', `rdump /etc ${into}`, image]);
  const found: string[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isFile()) {
        const text = await readFile(p, 'latin1');
        if (/proxy/i.test(e.name) || /Acquire::(https?|ftp)::Proxy|(^|\s)(https?|no)_proxy=/im.test(text)) found.push(p.slice(into.length));
      }
    }
  };
  await walk(join(into, 'etc'));
  for (const n of needles) {
    const r = await exec('grep', ['-a', '-c', '-F', n, image], { reject: false });
    if (r.exitCode === 0) found.push(`${n} in the image's bytes (${r.stdout.trim()} lines)`);
  }
  return found;
}

describe('proxies: cold builds through a real apt-cacher-ng', function () {
  this.timeout(40 * 60 * 1000);
  let dir: TempDir;
  let cache: Cache | undefined;
  let mirror: string;
  before(async function () {
    await requireRootWith(this, 'apt-cacher-ng', 'debootstrap', 'mmdebstrap', 'debugfs', 'mkfs.ext4', 'grep');
    mirror = (await detectMirror('bookworm')) ?? '';
    // apt-cacher-ng relays plain http; an https mirror would need its PassThroughPattern (a tunnel, nothing cached).
    if (!mirror.startsWith('http://')) skipBecause(this, `this host's Debian mirror (${mirror || 'none'}) is not plain http: apt-cacher-ng cannot cache it`);
    dir = await tempDir('umlbuild-proxy-', '/var/tmp');
    cache = await startCache(join(dir.path, 'acng'));
  });
  after(async () => {
    if (cache) {
      cache.server.child.kill('SIGTERM');
      const t = setTimeout(() => cache?.server.child.kill('SIGKILL'), 10000);
      await cache.server.exited;
      clearTimeout(t);
    }
    await dir?.remove();
  });

  const host = () => new URL(mirror).host;

  it("the caller's http_proxy: debootstrap and apt in the chroot fetch through the cache; the image holds no proxy setting", async () => {
    const c = cache!;
    const file = await dir.write('env.yml', recipe('debootstrap', false));
    const out = join(dir.path, 'out-env');
    const proxy = `http://127.0.0.1:${c.port}`;
    const from = (await c.requests()).length;
    // The way a person behind a proxy runs it: http_proxy exported, a cold bootstrap (a new cache directory).
    const cacheDir = join(dir.path, 'env-cache');
    const r = await exec(BIN, [file, '--out', out, '--cache-dir', cacheDir, '--renderer', 'simple'], { env: { http_proxy: proxy, no_proxy: 'localhost' }, reject: false });
    assert.equal(r.exitCode, 0, r.stdout + r.stderr);
    const kept = (await readdir(join(cacheDir, 'debs'))).filter((f) => f.endsWith('.deb'));
    assert.ok(
      kept.some((f) => f.startsWith('apt_')),
      `debootstrap keeps the .debs it downloaded in the cache (debs/, ${kept.length} found)`,
    );
    const req = await logged(c, from, (x) => x.some((p) => /\/hello_[^/]*\.deb$/.test(p)));
    assert.ok(
      req.some((p) => p.startsWith(host()) && /\/dists\/bookworm\/(InRelease|Release)$/.test(p)),
      `the suite's Release went through the cache:\n${req.slice(0, 20).join('\n')}`,
    );
    const debs = req.filter((p) => p.endsWith('.deb'));
    assert.ok(debs.length > 50, `the bootstrap's .debs went through the cache (${debs.length})`);
    assert.ok(
      debs.some((p) => /\/hello_[^/]*\.deb$/.test(p)),
      "apt-get in the chroot fetched through the cache (hello's .deb)",
    );
    assert.deepEqual(await proxyTraces(join(out, 'proxied-debootstrap.img'), join(dir.path, 'etc-env'), [`127.0.0.1:${c.port}`]), []);
    assert.deepEqual(await umlbuildMounts().then((m) => m.filter((x) => x.includes(dir.path))), []);
  });

  it('--set apt_proxy with credentials: mmdebstrap and the chroot fetch through it; the credentials are in no log, plan, manifest or image', async () => {
    const c = cache!;
    const secret = 'Pr0xyS3cret-e2e';
    const proxy = `http://umlproxy:${secret}@127.0.0.1:${c.port}`;
    const file = await dir.write('set.yml', recipe('mmdebstrap', true));
    const out = join(dir.path, 'out-set');
    const plan = await exec(BIN, [file, '--out', out, '--dry-run', '--set', `apt_proxy=${proxy}`], { reject: false });
    assert.equal(plan.exitCode, 0, plan.stdout + plan.stderr);
    assert.match(plan.stdout, new RegExp(`apt_proxy: http://\\*\\*\\*@127\\.0\\.0\\.1:${c.port}`));
    const from = (await c.requests()).length;
    // A fresh cache directory: a cold bootstrap, no caller's proxy.
    const r = await exec(BIN, [file, '--out', out, '--cache-dir', join(dir.path, 'cache-set'), '--no-fast', '--renderer', 'verbose', '--set', `apt_proxy=${proxy}`], { reject: false });
    assert.equal(r.exitCode, 0, r.stdout + r.stderr);
    const req = await logged(c, from, (x) => x.some((p) => /\/hello_[^/]*\.deb$/.test(p)));
    assert.ok(
      req.some((p) => p.startsWith(host()) && /\/dists\/bookworm\/(InRelease|Release)$/.test(p)),
      `mmdebstrap's apt fetched the suite's Release through the cache:\n${req.slice(0, 20).join('\n')}`,
    );
    assert.ok(req.filter((p) => p.endsWith('.deb')).length > 50, "mmdebstrap's .debs went through the cache");
    assert.ok(
      req.some((p) => /\/hello_[^/]*\.deb$/.test(p)),
      'apt-get in the chroot fetched through the cache',
    );
    const texts: [string, string][] = [
      ['the dry-run plan', plan.stdout + plan.stderr],
      ['the build log', r.stdout + r.stderr],
      ['the manifest', await readFile(join(out, 'proxied-mmdebstrap.manifest.json'), 'utf8')],
    ];
    for (const [what, text] of texts) assert.ok(!text.includes(secret), `${what} holds the proxy's password`);
    assert.deepEqual(await proxyTraces(join(out, 'proxied-mmdebstrap.img'), join(dir.path, 'etc-set'), [secret, `127.0.0.1:${c.port}`]), []);
    // The cache entry's record holds the bootstrap's fields: no proxy in them.
    const entries = await exec('grep', ['-r', '-l', '-F', secret, join(dir.path, 'cache-set')], { reject: false });
    assert.equal(entries.stdout, '', 'no cache file holds the password');
    // The same packages without the proxy: the bootstrap cache key is the same, so the entry is used.
    const warm = await exec(BIN, [file, '--out', join(dir.path, 'out-warm'), '--cache-dir', join(dir.path, 'cache-set'), '--no-fast', '--renderer', 'verbose'], { reject: false });
    assert.equal(warm.exitCode, 0, warm.stdout + warm.stderr);
    assert.match(warm.stdout + warm.stderr, /cache hit /, 'the entry the proxied build made is used by a build without the proxy');
  });
});

describe('proxies: a hostile apt_proxy from the command line', function () {
  this.timeout(120000);
  let dir: TempDir;
  before(async () => {
    dir = await tempDir('umlbuild-proxy-hostile-', '/var/tmp');
  });
  after(() => dir?.remove());

  it('is refused with exit 2 naming apt_proxy and --set, before anything is built; the value is not echoed and the victim is untouched', async () => {
    const victim = await dir.write('victim', 'stand-in victim\n');
    const file = await dir.write('r.yml', recipe('debootstrap', true));
    const out = join(dir.path, 'out');
    const values = [`http://127.0.0.1:3142\nAcquire::http::Proxy "file://${victim}";`, 'http://127.0.0.1:3142"; x', victim, `file://${victim}`, `http://127.0.0.1:3142${victim}`];
    for (const value of values)
      for (const dry of [true, false]) {
        const r = await exec(BIN, [file, '--out', out, '--set', `apt_proxy=${value}`, ...(dry ? ['--dry-run'] : [])], { reject: false });
        assert.equal(r.exitCode, 2, `${JSON.stringify(value)}: ${r.stdout}${r.stderr}`);
        assert.match(r.stderr, /apt_proxy: the proxy URL .*--set apt_proxy/);
        assert.ok(!r.stderr.includes(victim) && !r.stdout.includes(victim), r.stderr);
        assert.doesNotMatch(r.stderr, /^\s+at /m, 'no stack trace');
      }
    assert.equal(await readFile(victim, 'utf8'), 'stand-in victim\n');
    assert.equal(existsSync(out), false, 'nothing was made');
  });
});
