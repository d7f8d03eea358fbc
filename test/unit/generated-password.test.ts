import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { lstat, readFile, stat, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { RecipeError, UserError } from '../../src/errors.js';
import { announceGenerated, generatePassword, PASSWORD_ALPHABET } from '../../src/host/generated-password.js';
import { buildManifest } from '../../src/output/manifest.js';
import { loadRecipe } from '../../src/recipe/load.js';
import { baseInputs } from '../../src/runner/fast-path.js';
import { resolveLogin } from '../../src/api/login.js';
import type { BuiltImage } from '../../src/uml/target.js';
import type { BuildFacts } from '../../src/model/facts.js';
import { PROJECT, rejection, tempDir, type TempDir } from '../helpers.js';

const recipe = (name: string) => join(PROJECT, 'recipes', name);
const noEnv = {};

describe('generated passwords: no image has a well-known one', () => {
  let dir: TempDir;
  beforeEach(async () => (dir = await tempDir()));
  afterEach(() => dir.remove());

  it('generatePassword: 20 random characters without look-alikes, in groups of five', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const p = generatePassword();
      assert.match(p, /^[^-]{5}-[^-]{5}-[^-]{5}-[^-]{5}$/);
      for (const ch of p.replace(/-/g, '')) assert.ok(PASSWORD_ALPHABET.includes(ch), ch);
      assert.doesNotMatch(p, /[0O1lI]/);
      seen.add(p);
    }
    assert.equal(seen.size, 200);
  });

  for (const r of ['busybox.yml', 'bookworm.yml', 'bookworm-dirfirst.yml', 'from-dir.yml', 'from-tarball.yml', 'trixie.yml']) {
    it(`${r} without root_password: a generated password, the same in the image and the test, not "root"`, async () => {
      const set: Record<string, string> = r.startsWith('from-') ? { rootfs: dir.path } : {};
      const plan = await loadRecipe(recipe(r), { set, env: noEnv });
      const pw = plan.generated.get('root_password');
      assert.ok(pw && pw.length >= 20, 'a password was generated');
      assert.equal(plan.vars.root_password, pw);
      assert.equal(plan.test.password, pw);
      const step = plan.steps.find((s) => s.kind === 'password')!;
      assert.equal((step.options as { users: { password: string }[] }).users[0]!.password, pw);
      const again = await loadRecipe(recipe(r), { set, env: noEnv });
      assert.notEqual(again.generated.get('root_password'), pw, 'each build its own');
    });
  }

  it('a password given with --set or UMLBUILD_VAR_ROOT_PASSWORD, or a hash, is used: nothing generated', async () => {
    const set = await loadRecipe(recipe('busybox.yml'), { set: { root_password: 'given-pw-1' }, env: noEnv });
    assert.equal(set.generated.size, 0);
    assert.equal(set.test.password, 'given-pw-1');
    assert.deepEqual([...set.givenSecrets], ['root_password']);
    const env = await loadRecipe(recipe('busybox.yml'), { env: { UMLBUILD_VAR_ROOT_PASSWORD: 'given-pw-2' } });
    assert.equal(env.generated.size, 0);
    const hash = await loadRecipe(recipe('bookworm.yml'), { set: { root_password_hash: `$6$saltsalt$${'a'.repeat(86)}` }, env: noEnv });
    assert.equal(hash.generated.size, 0, "the hash wins: a generated password would not be the image's");
    assert.ok(!hash.test.password);
  });

  it('a reproducible build needs a password given (a generated one would differ each time)', async () => {
    const err = await rejection<RecipeError>(loadRecipe(recipe('busybox.yml'), { env: { SOURCE_DATE_EPOCH: '1700000000' } }));
    assert.ok(err instanceof RecipeError);
    assert.match(err.message, /reproducible build \(SOURCE_DATE_EPOCH\) needs a password given: --set root_password=\.\.\. or UMLBUILD_VAR_ROOT_PASSWORD/);
    const ok = await loadRecipe(recipe('busybox.yml'), { set: { root_password: 'given-pw-1' }, env: { SOURCE_DATE_EPOCH: '1700000000' } });
    assert.equal(ok.reproducible?.epoch, 1700000000);
  });

  it('generate needs secret: true', async () => {
    const file = await dir.write('r.yml', 'name: r\nvariables: {pw: {default: "", generate: true}}\nsteps:\n  - step: sparse-disk\n    size: 16M\n');
    assert.match((await rejection(loadRecipe(file, { env: noEnv }))).message, /variable "pw" is generated: it must be secret: true/);
  });

  it('the manifest records only that the password was generated', async () => {
    const plan = await loadRecipe(recipe('busybox.yml'), { env: noEnv });
    const pw = plan.generated.get('root_password')!;
    const text = await buildManifest({ plan, imageName: 'busybox.img', scriptName: 'busybox.sh', facts: {} as BuildFacts, timings: [], version: '0' });
    assert.ok(!text.includes(pw));
    const m = JSON.parse(text);
    assert.deepEqual(m.passwords, { root_password: 'generated' });
    assert.equal(m.variables.root_password, '***');
    const given = JSON.parse(
      await buildManifest({ plan: await loadRecipe(recipe('busybox.yml'), { set: { root_password: 'given-pw-1' }, env: noEnv }), imageName: 'b.img', scriptName: 'b.sh', facts: {} as BuildFacts, timings: [], version: '0' }),
    );
    assert.deepEqual(given.passwords, { root_password: 'given' });
  });

  it('on a terminal the password is shown once; otherwise it goes to a 0600 file, never through a planted link', async () => {
    const lines: string[] = [];
    const generated = new Map([['root_password', 'abcde-fghij-kmnop-qrstu']]);
    await announceGenerated({ generated, outDir: dir.path, output: 'img', terminal: true, write: (l) => lines.push(l) });
    assert.equal(lines.filter((l) => l.includes('abcde-fghij-kmnop-qrstu')).length, 1);
    await assert.rejects(lstat(join(dir.path, 'img.password')));

    // Not a terminal: a stand-in victim behind a link at the file's name stays untouched.
    const victim = await dir.write('victim', 'untouched\n');
    await symlink(victim, join(dir.path, 'img.password'));
    lines.length = 0;
    await announceGenerated({ generated, outDir: dir.path, output: 'img', terminal: false, write: (l) => lines.push(l) });
    assert.equal(await readFile(victim, 'utf8'), 'untouched\n');
    const file = join(dir.path, 'img.password');
    assert.ok((await lstat(file)).isFile());
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    assert.equal(await readFile(file, 'utf8'), 'abcde-fghij-kmnop-qrstu\n');
    assert.ok(!lines.join('\n').includes('abcde'), 'only the file name is printed');
    assert.match(lines.join('\n'), /root_password was generated: written to .*img\.password \(mode 0600/);

    // A later build with a given password removes the stale file.
    await announceGenerated({ generated: new Map(), outDir: dir.path, output: 'img', terminal: false, write: (l) => lines.push(l) });
    await assert.rejects(lstat(file));
  });
});

describe('umlbuild test: the password to log in with', () => {
  let dir: TempDir;
  beforeEach(async () => (dir = await tempDir()));
  afterEach(() => dir.remove());

  const image = (over: Partial<BuiltImage> = {}): BuiltImage =>
    ({ name: 'busybox', recipeFile: recipe('busybox.yml'), variables: { hostname: 'uml', root_password: '***' }, passwords: { root_password: 'generated' }, test: { user: 'root' }, ...over }) as unknown as BuiltImage;
  const noTerminal = { canAsk: () => false, ask: async () => assert.fail('asked without a terminal') };

  it('not on a terminal: an error that says exactly how to give it, not a login with a wrong password', async () => {
    const err = await rejection<UserError>(resolveLogin(image(), undefined, {}, undefined, noTerminal));
    assert.ok(err instanceof UserError);
    assert.equal(err.exitCode, 2);
    assert.match(err.message, /no password to log in as root: root_password was generated at build time/);
    assert.match(err.message, /--login root:PASSWORD/);
    assert.match(err.message, /UMLBUILD_TEST_PASSWORD=PASSWORD umlbuild test/);
  });

  it('a password given at build time (--set) is not read back from the recipe default', async () => {
    const withDefault = await dir.write('r.yml', 'name: r\nvariables: {root_password: {default: recipe-default, secret: true}}\ntest: {password: "${root_password}"}\nsteps:\n  - step: sparse-disk\n    size: 16M\n');
    const img = image({ recipeFile: withDefault, passwords: { root_password: 'given' } });
    assert.match((await rejection(resolveLogin(img, undefined, {}, undefined, noTerminal))).message, /root_password was given at build time/);
    // Given again through the environment, as at build time (UMLBUILD_VAR_ROOT_PASSWORD): read back.
    assert.equal((await resolveLogin(image({ recipeFile: withDefault, passwords: { root_password: 'given' }, variables: {} }), undefined, { UMLBUILD_VAR_ROOT_PASSWORD: 'from-var' }, undefined, noTerminal)).password, 'from-var');
    // Built with the recipe's own value: read back as before.
    assert.equal((await resolveLogin(image({ recipeFile: withDefault, passwords: {}, variables: {} }), undefined, {}, undefined, noTerminal)).password, 'recipe-default');
  });

  it("on a terminal it asks; --login, UMLBUILD_TEST_PASSWORD and the build's own password need no question", async () => {
    const prompts: string[] = [];
    const tty = {
      canAsk: () => true,
      ask: async (p: string) => {
        prompts.push(p);
        return 'typed-secret';
      },
    };
    assert.deepEqual(await resolveLogin(image(), undefined, {}, undefined, tty), { user: 'root', password: 'typed-secret' });
    assert.match(prompts[0]!, /password for root on busybox \(not echoed\)/);
    assert.equal((await resolveLogin(image(), 'root:from-login', {}, undefined, noTerminal)).password, 'from-login');
    assert.equal((await resolveLogin(image(), undefined, { UMLBUILD_TEST_PASSWORD: 'from-env' }, undefined, noTerminal)).password, 'from-env');
    assert.equal((await resolveLogin(image(), undefined, {}, { password: 'from-build' }, noTerminal)).password, 'from-build');
  });

  it('a recipe read again never yields a password generated by that reading', async () => {
    // An older manifest without `passwords`: the recipe is read again, and its fresh generated password is not the image's.
    const err = await rejection(resolveLogin(image({ passwords: {} }), undefined, {}, undefined, noTerminal));
    assert.match(err.message, /no password to log in as root/);
  });
});

describe('cache keys hold no password in clear', () => {
  let dir: TempDir;
  beforeEach(async () => (dir = await tempDir()));
  afterEach(() => dir.remove());

  it('a secret a base step uses (a run command) enters the base image key only as its sha256', async () => {
    const file = await dir.write(
      'r.yml',
      ['name: r', 'variables: {pw: {default: "", secret: true, generate: true}}', 'steps:', '  - step: directory', '  - step: run', '    chroot: false', '    command: "echo ${pw} >/dev/null"', '  - step: pack', '    size: 16M', ''].join(
        '\n',
      ),
    );
    const plan = await loadRecipe(file, { env: noEnv });
    const pw = plan.generated.get('pw')!;
    const ctx = { exec: async () => ({ stdout: 'amd64' }) } as unknown as Parameters<typeof baseInputs>[2];
    const fields = JSON.stringify(await baseInputs(plan, plan.steps, ctx));
    assert.ok(!fields.includes(pw), 'no password in the key fields');
    assert.ok(fields.includes(`sha256:${createHash('sha256').update(pw).digest('hex')}`), 'the key still depends on it');
  });
});
