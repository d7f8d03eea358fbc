import assert from 'node:assert/strict';
import { chmod, lstat, mkdir, readdir, readFile, readlink, symlink as mkSymlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { hostTreeEdits } from '../../src/edits/host-tree.js';
import { applyImageEdits, imageTarget, planImageEdits } from '../../src/edits/image.js';
import { dir, type FileEdit, file, NotEditable, symlink } from '../../src/edits/model.js';
import { applyTreeEdits } from '../../src/edits/tree.js';
import { readImageFile, statImageFile } from '../../src/host/debugfs.js';
import { exec } from '../../src/host/exec.js';
import { lockdown } from '../../src/steps/lockdown.js';
import { overlay } from '../../src/steps/overlay.js';
import { password } from '../../src/steps/password.js';
import { template } from '../../src/steps/template.js';
import { editContext } from '../../src/steps/file-edits.js';
import type { AnyStep } from '../../src/steps/types.js';
import { treeTarget } from '../../src/edits/tree.js';
import { PROJECT, tempDir, type TempDir } from '../helpers.js';
import { requireTools } from '../support/skip.js';

/** Every entry under `root` (lost+found left out): type, mode, owner, and contents or link target. */
async function snapshot(root: string, owners: (path: string) => Promise<{ uid: number; gid: number }>): Promise<string[]> {
  const out: string[] = [];
  const walk = async (rel: string) => {
    for (const name of (await readdir(join(root, rel))).sort()) {
      if (!rel && name === 'lost+found') continue;
      const path = `${rel}/${name}`;
      const st = await lstat(join(root, path));
      const { uid, gid } = await owners(path);
      const type = st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'link' : 'file';
      const what = st.isFile() ? JSON.stringify(await readFile(join(root, path), 'utf8')) : st.isSymbolicLink() ? `-> ${await readlink(join(root, path))}` : '';
      out.push(`${path} ${type} ${(st.mode & 0o7777).toString(8)} ${uid}:${gid} ${what}`);
      if (st.isDirectory()) await walk(path);
    }
  };
  await walk('');
  return out;
}

describe('file edits: the image applier (debugfs)', () => {
  let tmp: TempDir;
  let seed: string;
  let image: string;
  const me = { uid: process.getuid!(), gid: process.getgid!() };
  beforeEach(async function () {
    await requireTools(this, 'mkfs.ext4', 'debugfs');
    tmp = await tempDir();
    seed = join(tmp.path, 'seed');
    image = join(tmp.path, 'fs.img');
    await mkdir(join(seed, 'etc'), { recursive: true });
    await mkdir(join(seed, 'usr/lib/systemd'), { recursive: true });
    await mkdir(join(seed, 'usr/share'), { mode: 0o700 });
    await chmod(join(seed, 'usr/share'), 0o700);
    await writeFile(join(seed, 'etc/shadow'), 'root:*:19000:0:99999:7:::\n');
    await chmod(join(seed, 'etc/shadow'), 0o640);
    await writeFile(join(seed, 'etc/old'), 'old\n');
    await writeFile(join(seed, 'etc/gone'), 'gone\n');
    await mkSymlink('shadow', join(seed, 'etc/shadow-link'));
    await mkSymlink('usr/lib', join(seed, 'lib'));
    await exec('mkfs.ext4', ['-q', '-F', '-d', seed, image, '16M']);
  });
  afterEach(() => tmp?.remove());

  it('gives the same tree as the tree applier for the same edits (an overlay, files, links, a removal)', async () => {
    const tree = join(tmp.path, 'tree');
    await exec('cp', ['-a', seed, tree]);
    const edits: FileEdit[] = [
      dir('/opt/app', 0o750, me),
      file('/opt/app/conf', 'a=1\n', { mode: 0o600, owner: me, link: 'replace' }),
      file('/etc/old', 'new\n', { mode: 0o644, owner: me }),
      file('/lib/systemd/unit', '[Unit]\n', { owner: me }),
      symlink('/etc/localtime', '/usr/share/zoneinfo/UTC', me),
      dir('/usr/share', 0o755, me),
      { kind: 'remove', path: '/etc/gone' },
      dir('/', 0o755),
      ...(await hostTreeEdits(join(PROJECT, 'test/fixtures/overlay-basic'), '/', { owner: me })),
    ];
    await applyTreeEdits(tree, edits);
    await applyImageEdits(image, edits);
    const dump = join(tmp.path, 'dump');
    await mkdir(dump);
    await exec('debugfs', ['-R', `rdump / ${dump}`, image]);
    const inTree = await snapshot(tree, async (p) => lstat(join(tree, p)));
    const inImage = await snapshot(dump, async (p) => (await statImageFile(image, p))!);
    assert.deepEqual(inImage, inTree);
    const share = await lstat(join(seed, 'usr/share'));
    assert.ok(inTree.includes(`/usr/share dir 700 ${share.uid}:${share.gid} `), 'an existing directory keeps its mode');
    assert.ok(
      inTree.some((l) => l.startsWith('/usr/lib/systemd/unit file 644')),
      'written through the /lib link above it',
    );
    assert.ok(!inTree.some((l) => l.startsWith('/etc/gone')));
  });

  it('makes missing parents 0755 owned by root, and leaves existing directories out', async () => {
    const planned = await planImageEdits(image, [file('/a/b/c', 'x'), dir('/etc', 0o700)]);
    assert.deepEqual(
      planned.map((e) => `${e.kind} ${e.path}`),
      ['dir /a', 'dir /a/b', 'file /a/b/c'],
    );
    await applyImageEdits(image, [file('/a/b/c', 'x')]);
    assert.deepEqual(await statImageFile(image, '/a/b'), { type: 'directory', mode: 0o755, uid: 0, gid: 0 });
    assert.equal(await readImageFile(image, '/a/b/c'), 'x');
  });

  it('refuses with NotEditable, before writing anything: a path with a space, a device node, a hard link, a link at the path or as its directory, a directory to remove', async () => {
    const cases: [FileEdit, RegExp][] = [
      [file('/etc/with space', 'x'), /"\/etc\/with space" cannot be edited with debugfs/],
      [{ kind: 'device', path: '/dev/null', type: 'char', major: 1, minor: 3, mode: 0o666 }, /\/dev\/null: debugfs here makes no device nodes/],
      [{ kind: 'hardlink', path: '/etc/h', to: '/etc/old' }, /\/etc\/h: debugfs here makes no hard links/],
      [file('/etc/shadow-link', 'x'), /\/etc\/shadow-link is a link in the image/],
      [file('/lib/x', 'x'), /\/lib is a link in the image/],
      [symlink('/l', 'with space'), /cannot be edited with debugfs/],
      [{ kind: 'remove', path: '/etc' }, /\/etc: debugfs here removes no directories/],
    ];
    for (const [edit, message] of cases) {
      const e = await applyImageEdits(image, [file('/first', 'x'), edit]).then(
        () => undefined,
        (err: unknown) => err,
      );
      assert.ok(e instanceof NotEditable, `${JSON.stringify(edit)}: ${String(e)}`);
      assert.match(e.message, message);
      assert.equal(await statImageFile(image, '/first'), undefined, 'nothing written');
    }
  });

  it('reads the image as a target; a link read is refused (the tree would follow it)', async () => {
    const t = imageTarget(image);
    assert.equal(await t.readFile('/etc/shadow'), 'root:*:19000:0:99999:7:::\n');
    assert.equal((await t.stat('/etc/shadow'))?.mode, 0o640);
    assert.equal(await t.stat('/missing'), undefined);
    assert.equal(await t.readFile('/etc'), undefined);
    await assert.rejects(t.readFile('/etc/shadow-link'), NotEditable);
    await assert.rejects(t.stat('/with space'), NotEditable);
  });

  it('a non-directory in the way of a directory is an error naming it, as on the tree', async () => {
    await assert.rejects(applyImageEdits(image, [dir('/etc/old/sub')]), /\/etc\/old exists in the rootfs and is not a directory/);
    await assert.rejects(applyImageEdits(image, [dir('/etc/old')]), /\/etc\/old exists in the rootfs and is not a directory/);
  });

  it('a step describes the same edits from the tree and from the image (template, password, overlay, lockdown)', async () => {
    const tree = join(tmp.path, 'tree');
    await exec('cp', ['-a', seed, tree]);
    const build = { recipeDir: tmp.path, vars: { hostname: 'guest1' }, facts: {}, reproducible: { epoch: 1700000000, uuid: 'u' }, exec, log: () => undefined };
    const steps: [AnyStep, unknown][] = [
      [template, { template: 'hostname' }],
      [password, { users: [{ user: 'root', hash: '$6$saltsalt$aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa' }] }],
      [overlay, { source: join(PROJECT, 'test/fixtures/overlay-basic') }],
      [lockdown, {}],
    ];
    for (const [step, options] of steps) {
      const o = step.schema.parse(options);
      const fromTree = await step.edits!(o, editContext(build, treeTarget(tree)));
      const fromImage = await step.edits!(o, editContext(build, imageTarget(image)));
      assert.ok(fromTree.length > 0, step.kind);
      assert.deepEqual(fromImage, fromTree, step.kind);
    }
    const [shadow] = await password.edits!(
      password.schema.parse({ users: [{ user: 'root', hash: '$6$saltsalt$aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa' }] }),
      editContext(build, imageTarget(image)),
    );
    assert.deepEqual(shadow, {
      kind: 'file',
      path: '/etc/shadow',
      content: 'root:$6$saltsalt$aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa:19675:0:99999:7:::\n',
      mode: 0o640,
      link: 'follow',
      owner: { uid: (await lstat(join(seed, 'etc/shadow'))).uid, gid: (await lstat(join(seed, 'etc/shadow'))).gid },
    });
  });
});
