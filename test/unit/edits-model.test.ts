import assert from 'node:assert/strict';
import { assertEdits, checkEdits, dir, file, isHostFile, NotEditable, symlink } from '../../src/edits/model.js';

describe('file edits: the model', () => {
  it('constructors fill in the usual mode, and a file written at a link follows it unless it says replace', () => {
    assert.deepEqual(file('/etc/motd', 'hi\n'), { kind: 'file', path: '/etc/motd', content: 'hi\n', mode: 0o644, link: 'follow' });
    assert.deepEqual(file('/x', 'a', { mode: 0o600, owner: { uid: 1, gid: 2 }, link: 'replace' }), { kind: 'file', path: '/x', content: 'a', mode: 0o600, link: 'replace', owner: { uid: 1, gid: 2 } });
    assert.deepEqual(dir('/opt'), { kind: 'dir', path: '/opt', mode: 0o755 });
    assert.deepEqual(symlink('/l', '../t', { uid: 0, gid: 0 }), { kind: 'symlink', path: '/l', target: '../t', owner: { uid: 0, gid: 0 } });
  });

  it('tells host-file contents from given ones', () => {
    assert.equal(isHostFile({ hostFile: '/tmp/x' }), true);
    assert.equal(isHostFile('text'), false);
    assert.equal(isHostFile(Buffer.from('bytes')), false);
  });

  it('finds relative paths, bad owners and modes, empty link targets and device numbers, each named', () => {
    const problems = checkEdits([
      file('etc/motd', 'x'),
      dir('/a', 0o755, { uid: -1, gid: 0 }),
      { kind: 'file', path: '/b', content: 'x', mode: 1.5, link: 'follow' },
      symlink('/c', ''),
      { kind: 'hardlink', path: '/d', to: 'relative' },
      { kind: 'device', path: '/e', type: 'char', major: -1, minor: 3, mode: 0o600 },
    ]);
    assert.equal(problems.length, 6, problems.join('\n'));
    assert.match(problems[0]!, /^file "etc\/motd": not an absolute guest path/);
    assert.match(problems[1]!, /^dir "\/a": owner ids/);
    assert.match(problems[2]!, /^file "\/b": mode/);
    assert.match(problems[3]!, /^symlink "\/c": an empty link target/);
    assert.match(problems[4]!, /^hardlink "\/d": the link must name an absolute guest path/);
    assert.match(problems[5]!, /^device "\/e": major and minor/);
    assert.deepEqual(checkEdits([file('/ok', 'x'), { kind: 'remove', path: '/gone' }]), []);
    assert.throws(() => assertEdits([file('rel', 'x')]), /invalid file edits:\nfile "rel"/);
  });

  it('NotEditable is an Error with its own name', () => {
    const e = new NotEditable('why');
    assert.ok(e instanceof Error);
    assert.equal(e.name, 'NotEditable');
    assert.equal(e.message, 'why');
  });
});
