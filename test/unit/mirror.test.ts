import assert from 'node:assert/strict';
import { chooseMirror, parseDeb822, parseSourcesList, readAptSources } from '../../src/host/mirror.js';
import { tempDir } from '../helpers.js';

// Host names here are placeholders under the reserved .test domain.
const DEB822 = `Types: deb deb-src
# a comment
URIs: http://mirror.example.test/debian
Suites: bookworm bookworm-updates
Components: main contrib
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://security.example.test/debian-security
Suites: bookworm-security
Components: main

Types: deb
Enabled: no
URIs: http://disabled.example.test/debian
Suites: trixie
Components: main
`;

describe('mirror detection', () => {
  it('parses deb822 stanzas, skipping disabled ones', () => {
    const s = parseDeb822(DEB822);
    assert.deepEqual(
      s.map((x) => x.uri),
      ['http://mirror.example.test/debian', 'http://security.example.test/debian-security'],
    );
    assert.deepEqual(s[0]!.suites, ['bookworm', 'bookworm-updates']);
  });

  it('parses one-line sources with options and comments', () => {
    const s = parseSourcesList('# deb http://old.example.test/debian buster main\ndeb [arch=amd64 signed-by=/k.gpg] http://one.example.test/debian/ bullseye main # x\ndeb-src http://src.example.test/debian bullseye main\n');
    assert.deepEqual(
      s.map((x) => [x.uri, x.suites[0]]),
      [['http://one.example.test/debian/', 'bullseye']],
    );
  });

  it('chooses the entry listing the suite, else the host release, never security or third-party first', () => {
    const sources = [
      { uri: 'https://thirdparty.example.test/node', suites: ['nodistro'], components: ['main'], file: 'a' },
      ...parseDeb822(DEB822),
      { uri: 'http://trixie.example.test/debian/', suites: ['trixie'], components: ['main'], file: 'b' },
    ];
    assert.equal(chooseMirror(sources, 'trixie', 'bookworm'), 'http://trixie.example.test/debian');
    assert.equal(chooseMirror(sources, 'forky', 'bookworm'), 'http://mirror.example.test/debian');
    assert.equal(chooseMirror(sources.slice(2, 3), 'bookworm'), undefined);
  });

  it('reads sources.list and sources.list.d/*.sources and *.list, ignoring other files', async () => {
    const dir = await tempDir();
    try {
      await dir.write('sources.list', '');
      await dir.write('sources.list.d/debian.sources', DEB822);
      await dir.write('sources.list.d/extra.list', 'deb http://extra.example.test/debian sid main\n');
      await dir.write('sources.list.d/old.list.disabled', 'deb http://nope.example.test/debian sid main\n');
      const all = await readAptSources(dir.path);
      assert.deepEqual(
        all.map((s) => s.uri),
        ['http://mirror.example.test/debian', 'http://security.example.test/debian-security', 'http://extra.example.test/debian'],
      );
    } finally {
      await dir.remove();
    }
  });
});
