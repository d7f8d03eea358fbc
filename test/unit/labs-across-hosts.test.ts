/**
 * docs/labs-across-hosts.md, checked: its site.yml recipe is accepted by
 * `umlbuild validate` (beside busybox.yml, as the document says), its
 * launch.networks entry makes exactly the UML command lines the document
 * shows for each host, launch scripts for those transports are valid shell,
 * and a machine is given only the capabilities its transports need.
 */
import assert from 'node:assert/strict';
import { readdir, readFile, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exec } from '../../src/host/exec.js';
import { loadRecipe } from '../../src/index.js';
import { launchSchema } from '../../src/launch/schema.js';
import { networkArg } from '../../src/launch/transports.js';
import { renderLaunchScript } from '../../src/templates/launch-script.js';
import { UserError } from '../../src/errors.js';
import { capsFor, startMachine } from '../../src/uml/machine.js';
import { BIN, PROJECT, rejection, tempDir, type TempDir } from '../helpers.js';

const DOC = join(PROJECT, 'docs/labs-across-hosts.md');

/** The fenced block of `lang` whose text includes `marker`. */
function block(doc: string, lang: string, marker: string): string {
  const found = [...doc.matchAll(new RegExp(`^\`\`\`${lang}\\n([\\s\\S]*?)^\`\`\`$`, 'gm'))].map((m) => m[1]!).find((b) => b.includes(marker));
  assert.ok(found, `${DOC} has a ${lang} block with ${marker}`);
  return found;
}

const HOST_A = ['--set', 'local=192.168.77.1', '--set', 'remote=192.168.77.2'];
const HOST_B = ['--set', 'local=192.168.77.2', '--set', 'remote=192.168.77.1', '--set', 'rx_session=0x22', '--set', 'tx_session=0x11'];
const toSet = (args: string[]) => Object.fromEntries(args.filter((_, i) => i % 2).map((kv) => kv.split('=') as [string, string]));

describe('docs/labs-across-hosts.md: a segment across two hosts', function () {
  this.timeout(60000);
  let dir: TempDir;
  let doc: string;
  let recipe: string;

  before(async () => {
    doc = await readFile(DOC, 'utf8');
    dir = await tempDir('umlbuild-labx-doc-');
    // As the document says: beside a copy of recipes/busybox.yml and recipes/busybox/.
    await exec('cp', ['-r', join(PROJECT, 'recipes/busybox'), join(PROJECT, 'recipes/busybox.yml'), dir.path]);
    recipe = await dir.write('site.yml', block(doc, 'yaml', '# site.yml'));
  });
  after(() => dir?.remove());

  it('umlbuild validate accepts its site.yml for each host', async () => {
    for (const set of [HOST_A, HOST_B]) {
      const r = await exec(BIN, ['validate', recipe, ...set, '--set', 'network=static', '--set', 'address=10.9.0.1', '--set', 'netmask=255.255.255.0'], { reject: false });
      assert.equal(r.exitCode, 0, r.stdout + r.stderr);
      assert.match(r.stdout, /site\.yml: ok/);
    }
  });

  it("without the hosts' addresses, validate names the recipe line and key (exit 2)", async () => {
    const r = await exec(BIN, ['validate', recipe], { reject: false });
    assert.equal(r.exitCode, 2, r.stdout + r.stderr);
    assert.match(r.stderr, /site\.yml:\d+:\d+: launch\.networks\[0\]\.src: not an address \(value of variable "local"\)/);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  });

  it("its launch.networks entry makes the document's command line on each host", async () => {
    const a = block(doc, 'sh', 'src=192.168.77.1,dst=192.168.77.2,srcport');
    const b = block(doc, 'sh', 'src=192.168.77.2,dst=192.168.77.1,srcport');
    for (const [set, text] of [
      [HOST_A, a],
      [HOST_B, b],
    ] as const) {
      const plan = await loadRecipe(recipe, { set: toSet(set) });
      assert.equal(plan.launch.networks.length, 1);
      const arg = networkArg(plan.launch.networks[0]!);
      assert.ok(text.includes(` ${arg}\n`), `${arg} is in the document:\n${text}`);
    }
  });

  it('launch scripts for l2tpv3 over UDP (no host check at all) and gre are valid shell', async () => {
    // Failed before: a device needing nothing of the host left an empty `if ...; then fi`.
    for (const networks of [
      [{ device: 'vec0', transport: 'l2tpv3', udp: 1, src: '192.168.77.1', dst: '192.168.77.2', srcport: 1701, dstport: 1701, rx_session: '0x11', tx_session: '0x22', mtu: 1450 }],
      [{ device: 'vec0', transport: 'gre', src: '192.168.77.1', dst: '192.168.77.2', rx_key: 119, tx_key: 119 }],
    ]) {
      const launch = launchSchema.parse({ networks });
      const text = await renderLaunchScript({ name: 'site', image: join(dir.path, 'site.img'), umid: 'site', launch });
      const script = await dir.write('site.sh', text);
      const r = await exec('sh', ['-n', script], { reject: false });
      assert.equal(r.exitCode, 0, `${networks[0]!.transport}: ${r.stderr}`);
      assert.ok(text.includes(networkArg(launch.networks[0]!)));
      assert.equal(/has_cap 'net_raw'|has_cap net_raw/.test(text), networks[0]!.transport === 'gre', 'only gre checks for CAP_NET_RAW');
    }
  });

  it('a machine gets CAP_NET_RAW only for gre and l2tpv3 over IP, nothing for l2tpv3 over UDP', () => {
    const l2tp = { device: 'vec0', transport: 'l2tpv3' as const, dst: 'b', rx_session: 1, tx_session: 2 };
    assert.deepEqual(capsFor([{ ...l2tp, udp: 1 }]), []);
    assert.deepEqual(capsFor([{ ...l2tp, udp: 0 }]), ['net_raw']);
    assert.deepEqual(
      capsFor([
        { device: 'vec0', transport: 'gre', dst: 'b' },
        { device: 'vec1', transport: 'raw', ifname: 'x' },
      ]),
      ['net_raw'],
    );
    assert.deepEqual(capsFor([{ device: 'vec0', transport: 'tap', ifname: 'tap0' }]), []);
  });
});

describe('startMachine: bad and hostile input is refused before anything is made', () => {
  let dir: TempDir;
  const launch = launchSchema.parse({});
  const leftovers = async (umid: string) => (await Promise.all([tmpdir(), '/tmp'].map((d) => readdir(d)))).flat().filter((n) => n.startsWith(`umlbuild-machine-${umid}-`));
  beforeEach(async () => {
    dir = await tempDir('umlbuild-labx-machine-');
  });
  afterEach(() => dir.remove());

  it('a umid that would climb out of its directory (stand-in victim untouched)', async () => {
    const victim = await dir.write('victim/keep', 'precious');
    const e = await rejection<UserError>(startMachine({ image: { image: join(dir.path, 'x.img'), launch }, umid: `../../..${dir.path}/victim`, networks: [] }));
    assert.ok(e instanceof UserError, String(e));
    assert.match(e.message, /machine umid "\.\.\/.*": use 1-64 letters/);
    assert.deepEqual(await readdir(join(dir.path, 'victim')), ['keep']);
    assert.equal(await readFile(victim, 'utf8'), 'precious');
  });

  it('a network option value that would add options to the vecN argument', async () => {
    const net = { device: 'vec0', transport: 'l2tpv3' as const, udp: 1, dst: '192.0.2.2,bpfflash=1', rx_session: 1, tx_session: 2 };
    const e = await rejection<UserError>(startMachine({ image: { image: join(dir.path, 'x.img'), launch }, umid: 'labx-hostile', networks: [net] }));
    assert.ok(e instanceof UserError, String(e));
    assert.match(e.message, /^machine labx-hostile: network 1 \(vec0\): dst: not an address$/);
    assert.deepEqual(await leftovers('labx-hostile'), []);
  });

  it('an image that is a symbolic link is refused, and its private directory removed', async () => {
    const victim = await dir.write('victim.img', 'not an image');
    const link = join(dir.path, 'link.img');
    await symlink(victim, link);
    const e = await rejection<UserError>(startMachine({ image: { image: link, launch }, umid: 'labx-link', networks: [] }));
    assert.ok(e instanceof UserError, String(e));
    assert.match(e.message, /link\.img: cannot open it \(it is a symbolic link\)/);
    assert.deepEqual(await leftovers('labx-link'), []);
    assert.equal(await readFile(victim, 'utf8'), 'not an image');
  });
});
