import assert from 'node:assert/strict';
import { renderLaunchScript, networkSpec } from '../../src/output/launch.js';
import { renderTemplate, templateLocals, TEMPLATE_DIR } from '../../src/steps/template.js';
import { tempDir } from '../helpers.js';

const base = { hostname: 'web1', network: 'dhcp', netdev: 'vec0', address: '', netmask: '', gateway: '' };
const render = (name: string, vars: Record<string, unknown>, facts = {}) => renderTemplate(`${TEMPLATE_DIR}${name}.ejs`, templateLocals({ vars, facts }, {}));

describe('built-in templates', () => {
  it('fstab names the mount point and the filesystem type', async () => {
    const text = await render('fstab', base, { fsType: 'ext4' });
    assert.match(text, /^\/dev\/ubda \/ ext4 discard,errors=remount-ro 0 1$/m);
    assert.match(await render('fstab', base, { fsType: 'xfs' }), /^\/dev\/ubda \/ xfs discard 0 0$/m);
  });

  it('hostname and hosts carry the hostname', async () => {
    assert.equal(await render('hostname', base), 'web1\n');
    assert.match(await render('hosts', base), /^127\.0\.1\.1\tweb1$/m);
  });

  it('interfaces uses one device name consistently, for dhcp and static', async () => {
    const dhcp = await render('interfaces', base);
    assert.match(dhcp, /^allow-hotplug vec0$/m);
    assert.match(dhcp, /^iface vec0 inet dhcp$/m);
    assert.doesNotMatch(dhcp, /eth0/);
    const st = await render('interfaces', { ...base, netdev: 'eth0', network: 'static', address: '192.0.2.10', netmask: '255.255.255.0', gateway: '192.0.2.1' });
    assert.match(st, /^auto eth0\niface eth0 inet static\n {4}address 192\.0\.2\.10\n {4}netmask 255\.255\.255\.0\n {4}gateway 192\.0\.2\.1$/m);
    assert.doesNotMatch(st, /vec0/);
  });

  it('an undefined name is an error naming the template', async () => {
    await assert.rejects(render('hostname', {}), /template .*hostname\.ejs: hostname is not defined/);
  });

  it('renders a recipe-provided template file', async () => {
    const dir = await tempDir();
    try {
      const file = await dir.write('motd.ejs', 'Welcome to <%= hostname %>\n');
      assert.equal(await renderTemplate(file, { hostname: 'h' }), 'Welcome to h\n');
    } finally {
      await dir.remove();
    }
  });
});

describe('launch script', () => {
  it('renders the HowTo command line with overridable parameters', async () => {
    const text = await renderLaunchScript({ name: 'bookworm', image: '/o/bookworm.img', launch: { mem: '512M', network: { device: 'vec0', transport: 'tap', options: { ifname: 'tap0' } } } });
    assert.match(text, /^UML_MEM=\$\{UML_MEM:-512M\}$/m);
    assert.match(text, /^UML_NET=\$\{UML_NET:-"vec0:transport=tap,ifname=tap0"\}$/m);
    assert.match(text, /^UML_CON=\$\{UML_CON:-"con=null con0=null,fd:2 con1=fd:0,fd:1"\}$/m);
    assert.match(text, /^exec "\$UML_LINUX" mem="\$UML_MEM" umid="\$UML_UMID" ubd0="\$UML_UBD0" root=\/dev\/ubda \$UML_CON \$net \$UML_ARGS "\$@"$/m);
  });

  it('writes vector and legacy device specs', () => {
    assert.equal(networkSpec({ network: { device: 'vec0', transport: 'raw', options: { ifname: 'veth0' } } }), 'vec0:transport=raw,ifname=veth0');
    assert.equal(networkSpec({ network: { device: 'eth0', transport: 'tuntap', options: { dev: 'tap0' } } }), 'eth0=tuntap,tap0');
    assert.equal(networkSpec({ network: 'none' }), '');
  });
});
