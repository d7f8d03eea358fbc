/**
 * README "Labs", the way a person runs it: the section's commands verbatim, each in a pseudo-terminal
 * (the default renderer), as root from the clone, on the shipped labs: `lab test labs/routed` (up, checks,
 * down), then up / status / exec / test / down by name, and the Netkit lab. The README's lab file is the
 * shipped one. Nothing of the labs is left: namespace, state directory, UML processes.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'yaml';
import { exec } from '../../src/host/exec.js';
import { requireRootWith } from '../support/skip.js';
import { PROJECT } from '../helpers.js';
import { ptyRun, stripAnsi, tail } from './pty.js';

/** The Labs section of README.md. */
function labsSection(): string {
  const readme = readFileSync(join(PROJECT, 'README.md'), 'utf8');
  const start = readme.indexOf('\n## Labs\n');
  assert.ok(start >= 0, 'README.md has a "Labs" section');
  return readme.slice(start, readme.indexOf('\n## ', start + 5));
}

/** The fenced blocks of `lang` in `text`. */
const blocks = (text: string, lang: string) => [...text.matchAll(new RegExp(`\`\`\`${lang}\\n([\\s\\S]*?)\`\`\``, 'g'))].map((m) => m[1]!);

async function labNetns(): Promise<string[]> {
  const { stdout } = await exec('ip', ['netns', 'list']);
  return stdout.split('\n').filter((l) => /^umlbuild-lab-(routed|netkit)/.test(l));
}

/** Pids still alive among `pids`. */
const alive = (pids: number[]) => pids.filter((p) => existsSync(`/proc/${p}`) && !/\) Z /.test(readFileSync(`/proc/${p}/stat`, 'utf8')));

describe('README "Labs": the commands verbatim in a pseudo-terminal', function () {
  this.timeout(10 * 60 * 1000);
  const section = labsSection();
  const commands = blocks(section, 'sh')
    .flatMap((b) => b.split('\n'))
    .map((l) => l.replace(/\s+#.*$/, '').trim())
    .filter(Boolean);
  const run = async (line: string) => {
    const r = await ptyRun('sh', ['-c', line], 5 * 60 * 1000, { cwd: PROJECT });
    return { ...r, output: stripAnsi(r.output) };
  };

  before(async function () {
    await requireRootWith(this, 'busybox', 'linux', 'setpriv', 'mkfs.ext4', 'ip', 'uml_mconsole');
  });
  after(async () => {
    // Whatever happened above: the labs are down.
    for (const name of ['routed', 'netkit-two-lans']) await exec(join(PROJECT, 'bin/umlbuild'), ['lab', 'down', name], { reject: false });
  });

  it("the section's lab file is labs/routed/lab.yml, and it names every lab command", async () => {
    const [yaml] = blocks(section, 'yaml');
    assert.deepEqual(parse(yaml!), parse(await readFile(join(PROJECT, 'labs/routed/lab.yml'), 'utf8')));
    for (const verb of ['test', 'up', 'status', 'exec', 'down'])
      assert.ok(
        commands.some((c) => c.startsWith(`bin/umlbuild lab ${verb} `)),
        `${verb}: ${commands.join('\n')}`,
      );
  });

  it('lab test labs/routed: brought up, six checks pass with a line and time each, taken down', async () => {
    const r = await run(commands.find((c) => c === 'bin/umlbuild lab test labs/routed')!);
    assert.equal(r.exitCode, 0, tail(r.output, 40));
    assert.equal((r.output.match(/^ok {3}\S+: .* \([\d.]+ s\)\r?$/gm) ?? []).length, 6, tail(r.output, 40));
    assert.match(r.output, /PASS: 6 of 6 checks passed/);
    assert.deepEqual(await labNetns(), []);
    assert.ok(!existsSync('/run/umlbuild/labs/routed'), 'the state directory is gone');
  });

  it('up, status, exec, test and down by name, as the README runs them', async () => {
    const up = await run(commands.find((c) => c.startsWith('bin/umlbuild lab up '))!);
    assert.equal(up.exitCode, 0, tail(up.output, 40));
    assert.match(up.output, /lab routed is up: 3 machine\(s\)/);
    const status = await run(commands.find((c) => c.startsWith('bin/umlbuild lab status '))!);
    assert.equal(status.exitCode, 0, status.output);
    const pids: number[] = [];
    for (const m of ['a', 'r', 'b']) {
      const row = new RegExp(`^${m}\\s+(\\d+)\\s+running\\s+\\d+ s\\s+/dev/pts/\\d+`, 'm').exec(status.output);
      assert.ok(row, `${m} is listed as running:\n${status.output}`);
      pids.push(Number(row[1]));
    }
    assert.deepEqual(alive(pids), pids);
    const ping = await run(commands.find((c) => c.startsWith('bin/umlbuild lab exec '))!);
    assert.equal(ping.exitCode, 0, ping.output);
    assert.match(ping.output, /1 packets transmitted, 1 packets received/);
    const t = await run(commands.find((c) => c === 'bin/umlbuild lab test routed')!);
    assert.equal(t.exitCode, 0, tail(t.output, 30));
    assert.match(t.output, /PASS: 6 of 6 checks passed/);
    const down = await run(commands.find((c) => c.startsWith('bin/umlbuild lab down '))!);
    assert.equal(down.exitCode, 0, down.output);
    assert.match(down.output, /lab routed is down \(3 machine\(s\) stopped\)/);
    assert.deepEqual(alive(pids), [], 'no UML process of the lab is left');
    assert.deepEqual(await labNetns(), []);
    assert.ok(!existsSync('/run/umlbuild/labs/routed'), 'the state directory is gone');
  });

  it('the Netkit lab runs unchanged: startup scripts, lab.dep, the machine directory, its checks', async () => {
    const line = /`(bin\/umlbuild lab test labs\/netkit-two-lans)`/.exec(section)?.[1];
    assert.ok(line, 'the section names the Netkit command');
    const r = await run(line);
    assert.equal(r.exitCode, 0, tail(r.output, 40));
    assert.match(r.output, /ok {3}router: run cat \/etc\/motd/);
    assert.match(r.output, /PASS: 5 of 5 checks passed/);
    // lab.dep: the PCs boot once the router is up.
    assert.ok(r.output.indexOf('router: up') < r.output.indexOf('pc1: logged in'), tail(r.output, 40));
    assert.deepEqual(await labNetns(), []);
  });
});
