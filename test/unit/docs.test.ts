/**
 * The man pages and README's command-line block are made from the program
 * (test/docs.ts, `npm run man`): a committed copy that differs from a fresh
 * one fails here, every command and step kind is in the pages, and groff
 * renders them without a warning.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { program } from '../../src/cli.js';
import { exec } from '../../src/host/exec.js';
import { recipeFileSchema } from '../../src/recipe/schema.js';
import { stepKinds } from '../../src/steps/index.js';
import { commands, helpText, MAN1, MAN5, manPage1, manPage5, README, RECIPE_KEYS, readmeBlock, withReadmeBlock } from '../docs.js';
import { BIN, PROJECT } from '../helpers.js';

const stale = 'is stale: run `npm run man` and commit the result';

describe('man pages and the README command line (npm run man)', () => {
  it('man/umlbuild.1, man/umlbuild-recipe.5 and README.md are what the program and the step docs make now', async () => {
    assert.equal(await readFile(MAN1, 'utf8'), manPage1(), `man/umlbuild.1 ${stale}`);
    assert.equal(await readFile(MAN5, 'utf8'), manPage5(), `man/umlbuild-recipe.5 ${stale}`);
    const readme = await readFile(README, 'utf8');
    assert.equal(readme, withReadmeBlock(readme, readmeBlock()), `README.md's command-line block ${stale}`);
  });

  it("README's command-line section is the --help text of the program and of every command", async function () {
    this.timeout(60000);
    const readme = await readFile(README, 'utf8');
    const section = readme.slice(readme.indexOf('\n## Command line\n'), readme.indexOf('\n### ', readme.indexOf('\n## Command line\n')));
    for (const { path } of commands()) if (path !== 'help') assert.ok(section.includes(`<code>umlbuild ${path} --help</code>`), `README shows umlbuild ${path} --help`);
    assert.ok(section.includes('$ umlbuild --help\nUsage: umlbuild '));
    // The block is made in-process: it is what a person sees when umlbuild's output is not a terminal.
    const p = program();
    for (const path of ['', 'build', 'test', 'cache ls']) {
      const r = await exec(BIN, [...(path ? path.split(' ') : []), '--help'], { reject: false, env: { PATH: process.env.PATH! } });
      assert.equal(r.exitCode, 0);
      const cmd = path ? commands(p).find((c) => c.path === path)!.cmd : p;
      const shown = helpText(cmd);
      // exec() drops the last newline of the output.
      assert.equal(r.stdout, shown.replace(/\n$/, ''), `umlbuild ${path} --help`);
      assert.ok(section.includes(shown.trimEnd()), `README has umlbuild ${path} --help verbatim`);
    }
  });

  it('the shipped umlbuild(1) has every command, umlbuild-recipe(5) every step kind and recipe key', async () => {
    const man1 = await readFile(MAN1, 'utf8');
    for (const { path } of commands(program())) assert.match(man1, new RegExp(`^\\.SS "umlbuild ${path.replace(/-/g, '\\\\-')}[ "]`, 'm'), `umlbuild(1) has ${path}`);
    const man5 = await readFile(MAN5, 'utf8');
    for (const kind of stepKinds()) assert.match(man5, new RegExp(`^\\.SS ${kind.replace(/-/g, '\\\\-')}$`, 'm'), `umlbuild-recipe(5) has ${kind}`);
    for (const key of Object.keys(recipeFileSchema.shape)) assert.ok(RECIPE_KEYS[key], `umlbuild-recipe(5) describes the key ${key}`);
  });

  it('man -l renders both pages without a warning', async () => {
    for (const page of [MAN1, MAN5]) {
      const r = await exec('groff', ['-man', '-Tutf8', '-ww', '-z', page], { reject: false });
      assert.equal(r.exitCode, 0, r.stderr);
      assert.equal(r.stderr, '', `${page}: groff warnings`);
      const m = await exec('man', ['-l', page], { reject: false, env: { MANWIDTH: '80', PATH: process.env.PATH! } });
      assert.equal(m.exitCode, 0, m.stderr);
      assert.match(m.stdout, page === MAN1 ? /^ {3}umlbuild completion .*<shell>$/m : /^ {3}debootstrap$/m);
    }
  });

  it('the package ships the man pages', async () => {
    const pkg = JSON.parse(await readFile(`${PROJECT}/package.json`, 'utf8')) as { man: string[]; files: string[] };
    assert.deepEqual(pkg.man, ['./man/umlbuild.1', './man/umlbuild-recipe.5']);
    assert.ok(pkg.files.includes('man'));
  });
});
