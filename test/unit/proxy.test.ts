/**
 * Proxies (host/proxy): which variables reach the commands that fetch
 * packages, the recipe's apt_proxy and its checks, and that a proxy's
 * credentials stay out of the plan, the manifest's variables and the cache
 * keys. The real thing (apt-cacher-ng, a cold bootstrap) is test/e2e/proxy.test.ts.
 */
import assert from 'node:assert/strict';
import { RecipeError } from '../../src/errors.js';
import { exec } from '../../src/host/exec.js';
import { bypassed, callerProxyEnv, fetchEnv, proxyFor, proxyUrlProblem, withoutCredentials } from '../../src/host/proxy.js';
import { redact } from '../../src/host/secrets.js';
import { planDataProblems } from '../../src/model/plan.js';
import { publicVariables } from '../../src/output/manifest.js';
import { planText } from '../../src/plan-text.js';
import { loadRecipe } from '../../src/recipe/load.js';
import { createContext } from '../../src/runner/context.js';
import { baseInputs } from '../../src/runner/fast-path.js';
import type { StepContext } from '../../src/steps/types.js';
import { Teardown } from '../../src/host/teardown.js';
import { PROJECT, rejection, tempDir, type TempDir } from '../helpers.js';

const BOOKWORM = `${PROJECT}/recipes/bookworm.yml`;

describe('proxies: values', () => {
  it('accepts http(s)://[user:pass@]host[:port] and refuses anything else, naming why', () => {
    for (const ok of ['http://127.0.0.1:3142', 'http://127.0.0.1:3142/', 'https://proxy.example.org:8080', 'http://u:p%40ss@[::1]:3142']) assert.equal(proxyUrlProblem(ok), undefined, ok);
    const bad: [string, RegExp][] = [
      ['http://127.0.0.1:3142\nAcquire::http::Proxy "x";', /one line/],
      ['http://127.0.0.1:3142\r', /one line/],
      ['http://a"b:3142', /quote/],
      ["http://a'b:3142", /quote/],
      ['http://a b:3142', /space/],
      ['/etc/passwd', /not a URL/],
      ['../victim', /not a URL/],
      ['file:///etc/passwd', /http/],
      ['ftp://h:21', /http/],
      ['http://h:3142/etc/passwd', /no path/],
      ['http://h:3142?x=1', /no path/],
      ['http://h:3142#x', /no path/],
    ];
    for (const [value, why] of bad) assert.match(proxyUrlProblem(value) ?? 'accepted', why, JSON.stringify(value));
  });

  it('hides the user and password of a URL', () => {
    assert.equal(withoutCredentials('http://user:pw@127.0.0.1:3142'), 'http://***@127.0.0.1:3142');
    assert.equal(withoutCredentials('http://127.0.0.1:3142'), 'http://127.0.0.1:3142');
  });

  it("passes on the caller's proxy variables (either case) and nothing else; apt_proxy becomes http_proxy", () => {
    const env = { http_proxy: 'http://a:1', HTTPS_PROXY: 'http://b:2', no_proxy: 'localhost,.internal', NO_PROXY: '', ftp_proxy: 'http://c:3', PATH: '/x', SECRET: 'y' };
    assert.deepEqual(callerProxyEnv(env), { http_proxy: 'http://a:1', HTTPS_PROXY: 'http://b:2', no_proxy: 'localhost,.internal' });
    assert.deepEqual(fetchEnv('http://127.0.0.1:3142', env), { http_proxy: 'http://127.0.0.1:3142', HTTP_PROXY: 'http://127.0.0.1:3142', HTTPS_PROXY: 'http://b:2', no_proxy: 'localhost,.internal' });
    assert.deepEqual(fetchEnv(undefined, {}), {});
  });

  it("registers a proxy's credentials as secrets", () => {
    fetchEnv('http://proxyuser:Pr0xyPassw0rd@127.0.0.1:3142', {});
    assert.doesNotMatch(redact('via http://proxyuser:Pr0xyPassw0rd@127.0.0.1:3142 and proxyuser:Pr0xyPassw0rd'), /Pr0xyPassw0rd/);
    fetchEnv(undefined, { https_proxy: 'http://envuser:EnvPassw0rd@10.0.0.1:8080' });
    assert.doesNotMatch(redact('https_proxy=http://envuser:EnvPassw0rd@10.0.0.1:8080'), /EnvPassw0rd/);
  });

  it('chooses the proxy of a URL by its scheme and no_proxy', () => {
    const env = { http_proxy: 'http://p:1', https_proxy: 'http://q:2', no_proxy: 'localhost, .internal,exact.org:80' };
    assert.equal(proxyFor('http://deb.example.org/debian', env), 'http://p:1');
    assert.equal(proxyFor('https://deb.example.org/debian', env), 'http://q:2');
    assert.equal(proxyFor('http://mirror.internal/debian', env), undefined);
    assert.equal(proxyFor('http://exact.org/debian', env), undefined);
    assert.equal(proxyFor('http://notexact.org/debian', env), 'http://p:1');
    assert.equal(bypassed('anything', '*'), true);
    assert.equal(bypassed('a.b', ''), false);
  });

  it("keeps the caller's proxies out of every other command (the clean environment)", async () => {
    process.env.http_proxy = 'http://127.0.0.1:9';
    try {
      const { stdout } = await exec('sh', ['-c', 'echo "${http_proxy:-none}"']);
      assert.equal(stdout, 'none');
    } finally {
      delete process.env.http_proxy;
    }
  });
});

describe('proxies: apt_proxy in a recipe', () => {
  let dir: TempDir;
  before(async () => {
    dir = await tempDir();
  });
  after(async () => {
    await dir.remove();
  });

  it('takes apt_proxy from --set in the shipped Debian recipes, and gives it to the steps that fetch', async () => {
    const plan = await loadRecipe(BOOKWORM, { set: { apt_proxy: 'http://127.0.0.1:3142', root_password: 'change-me' } });
    assert.equal(plan.aptProxy, 'http://127.0.0.1:3142');
    const ctx = createContext(plan, `${dir.path}/x.img`, new Teardown(), new AbortController().signal);
    assert.equal(ctx.fetchEnv?.http_proxy, 'http://127.0.0.1:3142');
    const none = await loadRecipe(BOOKWORM, { set: { root_password: 'change-me' } });
    assert.equal(none.aptProxy, undefined);
  });

  it('takes a literal apt_proxy at the top of a recipe', async () => {
    const file = await dir.write('lit.yml', 'name: lit\napt_proxy: http://10.1.2.3:3142\nsteps:\n  - step: directory\n');
    assert.equal((await loadRecipe(file)).aptProxy, 'http://10.1.2.3:3142');
  });

  it('refuses a hostile apt_proxy with exit 2 naming the key and the flag, never echoing the value', async () => {
    for (const value of ['http://127.0.0.1:3142\nAcquire::http::Proxy "http://evil";', 'http://127.0.0.1:3142"', '/tmp/victim', `${dir.path}/victim`]) {
      const err = await rejection<RecipeError>(loadRecipe(BOOKWORM, { set: { apt_proxy: value, root_password: 'change-me' } }));
      assert.ok(err instanceof RecipeError, String(err));
      assert.equal(err.exitCode, 2);
      assert.match(err.message, /apt_proxy: the proxy URL/);
      assert.match(err.message, /--set apt_proxy/);
      assert.ok(!err.message.includes('evil') && !err.message.includes('victim'), err.message);
    }
  });

  it('refuses a plan a library caller changed to a hostile aptProxy', async () => {
    const plan = await loadRecipe(BOOKWORM, { set: { root_password: 'change-me' } });
    assert.deepEqual(
      planDataProblems({ ...plan, aptProxy: 'http://h:1\nx' }).map((p) => p.path),
      ['aptProxy'],
    );
  });

  it('keeps credentials out of the plan text and the manifest variables', async () => {
    const url = 'http://cacheuser:Cach3Secret99@127.0.0.1:3142';
    const plan = await loadRecipe(BOOKWORM, { set: { apt_proxy: url, root_password: 'change-me' } });
    const text = await planText(plan, dir.path);
    assert.doesNotMatch(text, /Cach3Secret99|cacheuser/);
    assert.match(text, /apt_proxy: .*127\.0\.0\.1:3142/);
    assert.doesNotMatch(JSON.stringify(publicVariables(plan)), /Cach3Secret99/);
  });

  it('does not change the cache keys: the steps and base-image inputs are the same with and without a proxy', async () => {
    const keyOf = async (set: Record<string, string>) => {
      const plan = await loadRecipe(BOOKWORM, { set: { root_password: 'change-me', ...set } });
      const ctx = { exec: async () => ({ stdout: 'tool 1.0', stderr: '', exitCode: 0 }) } as unknown as StepContext;
      return { steps: plan.steps.map((s) => s.options), base: await baseInputs(plan, plan.steps.slice(0, 4), ctx) };
    };
    assert.deepEqual(await keyOf({ apt_proxy: 'http://u:p@127.0.0.1:3142' }), await keyOf({}));
  });
});
