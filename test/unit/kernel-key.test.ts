/** kernel/build.ts kernelKey and kernel/source.ts: what keys a kernel build, and a source's identity. */
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { exec } from '../../src/host/exec.js';
import { kernelKey } from '../../src/kernel/build.js';
import { sourceIdentity, sourceRef } from '../../src/kernel/source.js';
import type { KernelRequest } from '../../src/model/kernel.js';
import { rejection, tempDir, type TempDir } from '../helpers.js';

describe('kernel cache key and source identity', () => {
  let t: TempDir;
  let tree: string;
  let frag: string;
  const req = (o: Partial<KernelRequest> = {}): KernelRequest => ({ source: tree, config: 'defconfig', fragments: [frag], options: {}, ...o });
  const key = async (r: KernelRequest) => (await kernelKey(r, { cacheRoot: join(t.path, 'cache'), exec })).key;

  beforeEach(async () => {
    t = await tempDir();
    tree = join(t.path, 'linux');
    await mkdir(join(tree, 'arch', 'um'), { recursive: true });
    await writeFile(join(tree, 'Makefile'), 'all:\n');
    frag = await t.write('frag.config', 'CONFIG_DUMMY=m\n');
  });
  afterEach(() => t.remove());

  it('the same inputs give the same key; a changed fragment, option, base config or base fragment another', async () => {
    const k = await key(req());
    assert.equal(await key(req()), k);
    await writeFile(frag, 'CONFIG_DUMMY=y\n');
    const k2 = await key(req());
    assert.notEqual(k2, k);
    assert.notEqual(await key(req({ options: { CONFIG_LOCALVERSION: '"-x"' } })), k2);
    assert.notEqual(await key(req({ umlbuildBase: false })), k2);
    const cfg = await t.write('my.config', 'CONFIG_A=y\n');
    assert.notEqual(await key(req({ config: cfg })), k2);
  });

  it('a tree is identified by its contents; a git checkout by HEAD, its diff and its untracked files', async () => {
    const a = await sourceIdentity(sourceRef(tree), { exec });
    assert.match(a.id, /^tree [0-9a-f]{64}$/);
    await writeFile(join(tree, 'Makefile'), 'all:\n\ttrue\n');
    assert.notEqual((await sourceIdentity(sourceRef(tree), { exec })).id, a.id);
    const git = (...args: string[]) => exec('git', ['-C', tree, '-c', 'user.email=t@e', '-c', 'user.name=t', ...args]);
    await git('init', '-q');
    await git('add', '-A');
    await git('commit', '-qm', 'one');
    const g1 = (await sourceIdentity(sourceRef(tree), { exec })).id;
    assert.match(g1, /^git [0-9a-f]{40} /);
    await writeFile(join(tree, 'Makefile'), 'all:\n\tfalse\n');
    const g2 = (await sourceIdentity(sourceRef(tree), { exec })).id;
    assert.notEqual(g2, g1, 'an uncommitted change');
    await writeFile(join(tree, 'new.c'), 'int x;\n');
    const g3 = (await sourceIdentity(sourceRef(tree), { exec })).id;
    assert.notEqual(g3, g2, 'an untracked file');
    await writeFile(join(tree, 'new.c'), 'int y;\n');
    assert.notEqual((await sourceIdentity(sourceRef(tree), { exec })).id, g3, "an untracked file's contents");
  });

  it('a package is identified by its installed version; a missing one names the apt-get line', async () => {
    const id = await sourceIdentity(sourceRef('linux-source-6.1'), { exec });
    assert.match(id.id, /^package linux-source-6\.1 \S+$/);
    const e = await rejection(sourceIdentity(sourceRef('linux-source-0.99'), { exec }));
    assert.match(e.message, /linux-source-0\.99 is not installed .*apt-get install linux-source-0\.99/);
  });

  it('a relative or unknown source is refused', () => {
    assert.throws(() => sourceRef('linux'), /not a Debian package name/);
    assert.deepEqual(sourceRef('/src/linux-6.6.tar.xz').kind, 'tarball');
  });

  it('a fragment that is a link or a FIFO is refused, not followed or opened', async () => {
    const victim = await t.write('victim', 'CONFIG_SECRET=y\n');
    const link = join(t.path, 'link.config');
    await exec('ln', ['-s', victim, link]);
    assert.match((await rejection(key(req({ fragments: [link] })))).message, /config fragment .*link\.config is a symbolic link|is a symbolic link/);
    const fifo = join(t.path, 'fifo.config');
    await exec('mkfifo', [fifo]);
    assert.match((await rejection(key(req({ fragments: [fifo] })))).message, /fifo\.config is a FIFO, not a regular file/);
  });
});

describe('the kernel step', () => {
  it("its cache inputs (the base image's key) change with the kernel's inputs, not otherwise", async () => {
    const { kernel } = await import('../../src/steps/kernel.js');
    const t = await tempDir();
    try {
      const frag = await t.write('k.config', 'CONFIG_DUMMY=m\n');
      const inputs = (o: Record<string, unknown>) => kernel.traits!.cacheInputs!(kernel.schema.parse(o), { recipeDir: t.path, digestMemo: join(t.path, 'cache', 'digests'), exec });
      const a = await inputs({ fragments: ['k.config'] });
      assert.deepEqual(await inputs({ fragments: ['k.config'] }), a);
      assert.notDeepEqual(await inputs({ fragments: ['k.config'], options: { CONFIG_VETH: 'm' } }), a);
      await writeFile(frag, 'CONFIG_DUMMY=y\n');
      assert.notDeepEqual(await inputs({ fragments: ['k.config'] }), a);
    } finally {
      await t.remove();
    }
  });
});

describe('the kernel cache', () => {
  it('prune removes entries, build directories, sources and ccache, but leaves the shared ones while a build runs', async () => {
    const { KernelCache } = await import('../../src/kernel/build.js');
    const t = await tempDir();
    try {
      const cache = new KernelCache(t.path);
      const fill = async () => {
        for (const d of ['build/b1', 'sources/s1', 'ccache/0', 'aaaa']) await mkdir(join(cache.dir, d), { recursive: true });
        await writeFile(join(cache.dir, 'aaaa.json'), '{}');
      };
      await fill();
      const release = await cache.lock('bbbb');
      const warnings: string[] = [];
      await cache.prune((w) => warnings.push(w));
      const { readdir } = await import('node:fs/promises');
      assert.deepEqual((await readdir(cache.dir)).sort(), ['bbbb.lock', 'build', 'ccache', 'sources']);
      assert.ok(warnings.some((w) => /a running umlbuild is building a kernel/.test(w)));
      await release();
      assert.equal(await cache.prune(), 0);
      assert.deepEqual(await readdir(cache.dir), []);
    } finally {
      await t.remove();
    }
  });
});
