import assert from 'node:assert/strict';
import { chown, mkdir, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { UserError } from '../../src/errors.js';
import { findBuiltImage } from '../../src/uml/target.js';
import { rejection, tempDir, type TempDir } from '../helpers.js';
import { requireRootWith } from '../support/skip.js';

const ARGS = ['quiet', 'hostfs=/proc/umlbuild-no-hostfs'];
const base = (name: string, extra: object = {}) => ({ recipe: { name }, image: { file: `${name}.img` }, umid: name, launch: { script: `${name}.sh`, mem: '64M', args: ARGS }, ...extra });
const variant = (name: string, of: string) => ({ kind: 'cow-variant', variant: name, image: { file: `${of}.img` }, cow: { file: `${name}.cow` }, umid: name, launch: { script: `${name}.sh`, mem: '64M', args: ARGS } });

describe('uml/target: findBuiltImage resolves what test/boot were pointed at', () => {
  let dir: TempDir;
  beforeEach(async () => {
    dir = await tempDir('umlbuild-target-');
  });
  afterEach(() => dir.remove());
  const put = async (name: string, manifest: object, files: string[]) => {
    await dir.write(`${name}.manifest.json`, JSON.stringify(manifest));
    for (const f of files) await dir.write(f, 'x');
  };

  it('a directory with one manifest means that image; its .img path means the same', async () => {
    await put('demo', base('demo', { variables: { hostname: 'h' }, test: { user: 'root', hostname: 'h' } }), ['demo.img', 'demo.sh']);
    const viaDir = await findBuiltImage(dir.path);
    assert.equal(viaDir.image, join(dir.path, 'demo.img'));
    assert.equal(viaDir.manifestFile, join(dir.path, 'demo.manifest.json'));
    assert.equal(viaDir.script, join(dir.path, 'demo.sh'));
    assert.equal(viaDir.name, 'demo');
    assert.equal(viaDir.cow, undefined);
    assert.equal(viaDir.hostfsRoot, undefined);
    assert.deepEqual(viaDir.variables, { hostname: 'h' });
    assert.deepEqual(await findBuiltImage(join(dir.path, 'demo.img')), viaDir);
  });

  it('base + COW variants: the directory means the base, a .cow path its variant over the base image', async () => {
    await put('base', base('base'), ['base.img', 'base.sh']);
    await put('v1', variant('v1', 'base'), ['v1.cow', 'v1.sh']);
    await put('v2', variant('v2', 'base'), ['v2.cow', 'v2.sh']);
    assert.equal((await findBuiltImage(dir.path)).manifestFile, join(dir.path, 'base.manifest.json'));
    const v1 = await findBuiltImage(join(dir.path, 'v1.cow'));
    assert.equal(v1.image, join(dir.path, 'base.img'));
    assert.equal(v1.cow, join(dir.path, 'v1.cow'));
    assert.equal(v1.name, 'v1');
    assert.equal(v1.umid, 'v1');
  });

  it('two bases in one directory, or none, is refused naming what was found', async () => {
    assert.match((await rejection(findBuiltImage(dir.path))).message, /expected one \*\.manifest\.json, found none; name the image instead/);
    await put('a', base('a'), ['a.img', 'a.sh']);
    await put('b', base('b'), ['b.img', 'b.sh']);
    const err = await rejection<UserError>(findBuiltImage(dir.path));
    assert.equal(err.exitCode, 2);
    assert.match(err.message, /found a\.manifest\.json, b\.manifest\.json/);
  });

  it('refuses a missing target, an image without manifest, a missing image and an image that is a link', async () => {
    assert.match((await rejection(findBuiltImage(join(dir.path, 'nope.img')))).message, /nope\.img does not exist/);
    await dir.write('lone.img', 'x');
    assert.match((await rejection(findBuiltImage(join(dir.path, 'lone.img')))).message, /no manifest beside it \(\S+lone\.manifest\.json\); was it built by umlbuild\?/);
    await dir.write('sub/gone.manifest.json', JSON.stringify(base('gone')));
    assert.match((await rejection(findBuiltImage(join(dir.path, 'sub')))).message, /gone\.manifest\.json: its image \S+gone\.img is missing/);
    await dir.write('victim', 'stand-in');
    await put('linked', base('linked'), ['linked.sh']);
    await symlink(join(dir.path, 'victim'), join(dir.path, 'linked.img'));
    assert.match((await rejection(findBuiltImage(join(dir.path, 'linked.img')))).message, /its image \S+linked\.img is a symbolic link; umlbuild boots only files it made/);
  });

  it('a hostfs .root directory: found by its manifest beside it, refused while root owns it (needs root)', async function () {
    await requireRootWith(this);
    await put('h', base('h', { image: { file: 'h.root', kind: 'hostfs' } }), ['h.sh']);
    const root = join(dir.path, 'h.root');
    await mkdir(root);
    assert.match((await rejection(findBuiltImage(root))).message, /its hostfs root \S+h\.root belongs to root/);
    await chown(root, 65534, 65534);
    const h = await findBuiltImage(`${root}/`);
    assert.equal(h.image, root);
    assert.equal(h.hostfsRoot, root);
  });
});
