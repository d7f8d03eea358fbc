import assert from 'node:assert/strict';
import { templateLocals } from '../../src/steps/template.js';
import { renderTemplate, TEMPLATE_DIR } from '../../src/templates/render.js';
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
    assert.match(dhcp, /^auto vec0$/m);
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
