/** kernel/config.ts: .config and fragment parsing, merge_config.sh's merge, the options olddefconfig dropped. */
import assert from 'node:assert/strict';
import { describeDropped, droppedOptions, mergeConfigs, optionsConfig, parseConfig, renderConfig } from '../../src/kernel/config.js';

describe('kernel config', () => {
  it('parses y, m, strings, numbers and "is not set"; comments and blank lines are skipped', () => {
    const { config, errors } = parseConfig('# comment\nCONFIG_A=y\nCONFIG_B=m\n\nCONFIG_S="a \\"q\\" b"\nCONFIG_N=-12\nCONFIG_H=0x1f\n# CONFIG_C is not set\n');
    assert.deepEqual(errors, []);
    assert.deepEqual(
      [...config],
      [
        ['CONFIG_A', 'y'],
        ['CONFIG_B', 'm'],
        ['CONFIG_S', '"a \\"q\\" b"'],
        ['CONFIG_N', '-12'],
        ['CONFIG_H', '0x1f'],
        ['CONFIG_C', 'n'],
      ],
    );
  });

  it('reports a bad line with its number', () => {
    const { errors } = parseConfig('CONFIG_A=y\nHOSTFS=y\nCONFIG_B=maybe\n');
    assert.deepEqual(
      errors.map((e) => e.line),
      [2, 3],
    );
    assert.match(errors[1]!.message, /CONFIG_B: the value maybe/);
  });

  it('merges fragments in order, the later winning, and reports what a later fragment redefined', () => {
    const base = parseConfig('CONFIG_A=y\nCONFIG_B=y\n# CONFIG_C is not set\n').config;
    const m = mergeConfigs(base, [
      { from: 'one.config', config: parseConfig('CONFIG_B=m\nCONFIG_C=y\n').config },
      { from: 'two.config', config: parseConfig('# CONFIG_B is not set\nCONFIG_D="x"\n').config },
    ]);
    assert.equal(renderConfig(m.config), 'CONFIG_A=y\n# CONFIG_B is not set\nCONFIG_C=y\nCONFIG_D="x"\n');
    assert.deepEqual(m.overrides, [{ option: 'CONFIG_B', previous: 'm', value: 'n', from: 'two.config' }]);
    assert.equal(m.askedBy.get('CONFIG_B'), 'two.config');
    assert.equal(m.askedBy.has('CONFIG_A'), false, 'the base asks for nothing');
  });

  it('a fragment option the final .config does not have as asked is dropped; n equals not set and absent', () => {
    const m = mergeConfigs(new Map(), [{ from: 'f.config', config: parseConfig('CONFIG_A=y\nCONFIG_B=m\n# CONFIG_C is not set\nCONFIG_D=n\nCONFIG_E="v"\nCONFIG_F=y\n').config }]);
    const final = parseConfig('CONFIG_A=y\nCONFIG_B=y\nCONFIG_E="w"\n# CONFIG_F is not set\n').config;
    const dropped = droppedOptions(m, final);
    assert.deepEqual(dropped, [
      { option: 'CONFIG_B', wanted: 'm', got: 'y', from: 'f.config' },
      { option: 'CONFIG_E', wanted: '"v"', got: '"w"', from: 'f.config' },
      { option: 'CONFIG_F', wanted: 'y', from: 'f.config' },
    ]);
    assert.match(describeDropped(dropped[2]!), /CONFIG_F=y \(from f.config\) did not survive olddefconfig: the final .config has it not set/);
  });

  it('inline options: names must be CONFIG_*, values as a .config writes them', () => {
    assert.deepEqual(optionsConfig({ CONFIG_A: 'y', CONFIG_L: '"-x"' }).errors, []);
    assert.deepEqual(optionsConfig({ HOSTFS: 'y', CONFIG_B: 'yes', CONFIG_C: '"a\nCONFIG_D=y"' }).errors.length, 3);
  });
});
