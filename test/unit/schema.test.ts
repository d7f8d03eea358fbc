import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { parse } from 'yaml';
import { recipeJsonSchema } from '../../src/schema.js';
import { PROJECT } from '../helpers.js';

describe('JSON Schema of the recipe format (umlbuild schema)', () => {
  const file = join(PROJECT, 'recipes/recipe.schema.json');
  const schema = JSON.parse(readFileSync(file, 'utf8')) as object;
  const validate = new Ajv({ allErrors: true, strict: false }).compile(schema);

  it('recipes/recipe.schema.json is what `umlbuild schema` prints now (regenerate: umlbuild schema > recipes/recipe.schema.json)', () => {
    assert.deepEqual(recipeJsonSchema(), schema);
  });

  it('accepts every shipped recipe, which points to it', () => {
    const recipes = ['include/debian.yml', ...readdirSync(join(PROJECT, 'recipes')).filter((f) => f.endsWith('.yml'))];
    assert.ok(recipes.length >= 10);
    for (const r of recipes) {
      const text = readFileSync(join(PROJECT, 'recipes', r), 'utf8');
      assert.match(text, /^# yaml-language-server: \$schema=(\.\.\/)?recipe\.schema\.json$/m, r);
      assert.ok(validate(parse(text)), `${r}: ${JSON.stringify(validate.errors)}`);
    }
  });

  it('rejects broken recipes: unknown keys and steps, wrong types, bad enums', () => {
    const broken = [
      { name: 'x', colour: 'blue' },
      { name: 'x', steps: [{ step: 'teleport' }] },
      { name: 'x', steps: [{ step: 'pack', size: true }] },
      { name: 'x', steps: [{ step: 'mkfs', fs: 'ntfs' }] },
      { name: 'x', steps: [{ step: 'directory', tmpfs: true, colour: 'blue' }] },
      { name: 'x', tune: 'turbo' },
      { name: 'x', launch: { mem: 'lots' } },
      { name: 'x', variables: { n: { default: 1, tpye: 'integer' } } },
      { name: 'x', variables: { n: { default: 1, type: 'float' } } },
      { name: 'x', variables: { n: { type: 'enum', values: [] } } },
      { name: 'x', variables: { n: { type: 'enum', values: ['a'], requires: { a: 'b' } } } },
    ];
    for (const b of broken) assert.equal(validate(b), false, JSON.stringify(b));
    assert.ok(validate({ name: 'x', steps: [{ step: 'pack', size: '${size}', discard: '${discard}' }] }), 'a ${variable} stands for any value');
    assert.ok(validate({ name: 'x', variables: { a: '', n: { default: 'b', type: 'enum', values: ['a', 'b'], requires: { b: ['a'] } }, c: { type: 'integer', min: 1 } } }), 'typed variables');
  });
});
