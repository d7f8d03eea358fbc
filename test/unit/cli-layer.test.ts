/** cli/: one file per command, each over the library API; `umlbuild test` and the API's test() are one path. */
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { exec } from '../../src/host/exec.js';
import { interrupts } from '../../src/cli/options.js';
import { test as apiTest } from '../../src/index.js';
import { BIN, PROJECT, rejection, tempDir, type TempDir } from '../helpers.js';

/** The modules a TypeScript file imports (static, dynamic and re-exports). */
function importsOf(source: string): string[] {
  return [...source.matchAll(/(?:^|\n)\s*(?:import|export)\b[^'"`;]*?from\s*['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)|(?:^|\n)\s*import\s+['"]([^'"]+)['"]/g)].map((m) => (m[1] ?? m[2] ?? m[3])!);
}

describe('cli/: commands over the library API', () => {
  it('every cli file imports only the api layer, commander, node: modules and other cli files', async () => {
    const files = [join(PROJECT, 'src/cli.ts'), ...(await readdir(join(PROJECT, 'src/cli'))).filter((f) => f.endsWith('.ts')).map((f) => join(PROJECT, 'src/cli', f))];
    assert.ok(files.length >= 10, `one file per command: ${files.length}`);
    const bad: string[] = [];
    for (const file of files) {
      const inCliDir = file.includes('/src/cli/');
      const ok = inCliDir ? /^(commander|node:.+|\.\/[\w-]+\.js|\.\.\/index\.js|\.\.\/api\/[\w-]+\.js|\.\.\/api\.js)$/ : /^(commander|node:.+|\.\/cli\/[\w-]+\.js|\.\/index\.js|\.\/api\/[\w-]+\.js|\.\/api\.js)$/;
      const specs = importsOf(await readFile(file, 'utf8'));
      assert.ok(specs.length, `${file}: no imports found (the pattern is broken)`);
      for (const spec of specs) if (!ok.test(spec)) bad.push(`${file.slice(PROJECT.length)}: ${spec}`);
    }
    assert.deepEqual(bad, []);
  });

  it('the import rule catches a cli file that reaches past the api', () => {
    assert.deepEqual(importsOf("import { x } from '../runner/build.js';\nimport type { Y } from \"../uml/target.js\";\nexport { z } from './options.js';\nconst m = await import('../recipe/load.js');\n"), [
      '../runner/build.js',
      '../uml/target.js',
      './options.js',
      '../recipe/load.js',
    ]);
  });

  it('`umlbuild test` calls the API test() (one code path)', async () => {
    const source = await readFile(join(PROJECT, 'src/cli/test.ts'), 'utf8');
    // Loaded when the command runs (startup.test.ts): `const { ..., test } = await import('../api/test.js')`.
    assert.match(source, /\{[^}]*\btest\b[^}]*\} = await import\('\.\.\/api\/test\.js'\)/);
    assert.doesNotMatch(source, /bootTest|resolveLogin|findBuiltImage/);
    const api = await import('../../src/api/test.js');
    assert.equal(apiTest, api.test, 'the package entry exports the same function');
  });

  it('interrupts: SIGTERM aborts the signal only between start() and stop(), with the exit code of the signal', () => {
    const before = process.listenerCount('SIGTERM');
    const early = interrupts();
    early.start();
    early.stop();
    assert.equal(process.listenerCount('SIGTERM'), before);
    const i = interrupts();
    i.start();
    try {
      process.emit('SIGTERM');
    } finally {
      i.stop();
    }
    assert.equal(process.listenerCount('SIGTERM'), before);
    assert.equal(early.signal.aborted, false);
    assert.equal(i.signal.aborted, true);
    assert.equal((i.signal.reason as { exitCode: number }).exitCode, 143);
  });

  describe('both report the same thing through that path', () => {
    let dir: TempDir;
    beforeEach(async () => {
      dir = await tempDir('umlbuild-cli-test-');
      const launch = { script: 'demo.sh', mem: '64M', args: ['quiet'] };
      await dir.write('demo.manifest.json', JSON.stringify({ recipe: { name: 'demo' }, image: { file: 'demo.img' }, umid: 'demo', passwords: { root_password: 'generated' }, launch }));
      await dir.write('demo.img', 'x');
      await dir.write('demo.sh', '#!/bin/sh\n');
    });
    afterEach(() => dir.remove());

    it('no password and no terminal: the same message and exit 2, before anything boots', async () => {
      const env = { PATH: process.env.PATH!, HOME: process.env.HOME ?? '/root' };
      const saved = { ...process.env };
      for (const k of Object.keys(process.env)) if (/^UMLBUILD_(TEST_PASSWORD|VAR_)/.test(k)) delete process.env[k];
      let fromApi: Error & { exitCode?: number };
      try {
        fromApi = await rejection(apiTest(dir.path, { network: false }));
      } finally {
        Object.assign(process.env, saved);
      }
      assert.equal(fromApi.exitCode, 2);
      assert.match(fromApi.message, /no password to log in as root: root_password was generated at build time/);
      const r = await exec(BIN, ['test', dir.path, '--no-network'], { reject: false, env, input: '' });
      assert.equal(r.exitCode, 2);
      assert.equal(r.stderr.trim(), `umlbuild: ${fromApi.message}`);
      assert.doesNotMatch(r.stdout, /booting/);
    });

    it('a bad --timeout is refused once the image and login are known, naming the option', async () => {
      const r = await exec(BIN, ['test', dir.path, '--no-network', '--login', 'root:pw', '--timeout', 'soon'], { reject: false, env: { PATH: process.env.PATH! } });
      assert.equal(r.exitCode, 2);
      assert.match(r.stderr, /--timeout.*soon.*must be a positive number of seconds/);
      assert.doesNotMatch(r.stdout, /booting/);
      const nothing = await exec(BIN, ['test', join(dir.path, 'nope.img'), '--timeout', 'soon'], { reject: false, env: { PATH: process.env.PATH! } });
      assert.match(nothing.stderr, /nope\.img does not exist/);
    });
  });
});
