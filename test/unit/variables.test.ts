import assert from 'node:assert/strict';
import { interpolate, resolveVariables, type InterpolationProblem } from '../../src/recipe/variables.js';

describe('variables', () => {
  it('substitutes inside strings and keeps the type of a whole reference', () => {
    const problems: InterpolationProblem[] = [];
    const out = interpolate({ a: 'host-${name}', n: '${count}', list: ['${name}', '$${literal}'] }, { name: 'web', count: 3 }, problems);
    assert.deepEqual(out, { a: 'host-web', n: 3, list: ['web', '${literal}'] });
    assert.deepEqual(problems, []);
  });
  it('reports each undefined variable with its path', () => {
    const problems: InterpolationProblem[] = [];
    interpolate({ a: { b: ['x', '${nope}'] }, c: 'pre-${missing}-post' }, { known: 1 }, problems);
    assert.deepEqual(
      problems.map((p) => [p.path.join('.'), p.message]),
      [
        ['a.b.1', 'undefined variable "nope" (defined: known)'],
        ['c', 'undefined variable "missing" (defined: known)'],
      ],
    );
  });
  it('resolves variables that refer to each other in any order', () => {
    const { vars, problems } = resolveVariables({ fqdn: '${host}.${domain}', host: 'web', domain: 'example.test' });
    assert.equal(vars.fqdn, 'web.example.test');
    assert.deepEqual(problems, []);
  });
  it('reports cycles', () => {
    const { problems } = resolveVariables({ a: '${b}', b: '${a}' });
    assert.ok(
      problems.some((p) => /cycle: .*a -> b -> a|cycle: .*b -> a -> b/.test(p.message)),
      JSON.stringify(problems),
    );
  });
  it('keeps values given from outside literal and says which variables each one came from', () => {
    const { vars, uses, problems } = resolveVariables({ pw: 'secret', host: '${pw}', fqdn: '${host}.example', label: 'l-${fqdn}' }, new Set(['host']));
    assert.deepEqual(problems, []);
    assert.equal(vars.host, '${pw}');
    assert.equal(vars.fqdn, '${pw}.example');
    assert.deepEqual([...uses.get('label')!].sort(), ['fqdn', 'host', 'label']);
    assert.deepEqual([...resolveVariables({ pw: 'secret', host: '${pw}' }).uses.get('host')!].sort(), ['host', 'pw']);
  });
});
