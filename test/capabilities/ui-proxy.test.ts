/** `cap:ui.proxy` against a real loopback upstream. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createUiProxyCapability, proxyErrorForStatus, routeProblem, UI_PROXY_CAPABILITY, UI_PROXY_INTERFACE } from '../../src/capabilities/ui-proxy.js';
import type { UiProxyCapabilityOptions, UiProxyConfig } from '../../src/capabilities/ui-proxy.js';
import type { Capability, HostResult, InstallView } from '../../src/capabilities/capability.js';
import type { ExecutionContext, ExecutionUser } from '../../src/contract/index.js';
import { closedPort, startServer } from '../net/loopback.js';
import type { LoopbackServer } from '../net/loopback.js';

const SECRET = 'k3y-that-must-never-be-logged';

const user: ExecutionUser = {
  userId: 'user-7',
  userEmail: 'u@example.com',
  userName: 'U',
  userType: 'internal',
  clientName: 'Acme',
  clientId: null,
  additionalFields: {},
};

function context(withUser: boolean): ExecutionContext {
  return {
    requestId: 'req-42',
    tenantId: 'tenant-1',
    extensionId: 'ext-1',
    installId: 'inst-1',
    versionId: 'v1',
    contentHash: 'sha256:00',
    user: withUser ? user : null,
    config: {},
  };
}

function install(baseUrl: string | null, envelopeSecrets?: Record<string, string>): InstallView {
  return { installId: 'inst-1', tenantId: 'tenant-1', extensionId: 'ext-1', versionId: 'v1', config: {}, egressAllow: [], uiProxy: baseUrl === null ? null : { baseUrl }, envelopeSecrets };
}

const secrets: UiProxyCapabilityOptions['getSecret'] = async (installId, name) => (installId === 'inst-1' && name === 'api_key' ? SECRET : undefined);

function execution(cap: Capability<UiProxyConfig, null>, baseUrl: string | null, opts: { withUser?: boolean; fn?: string; envelopeSecrets?: Record<string, string> } = {}) {
  const ctx = context(opts.withUser ?? true);
  const config = cap.configure(install(baseUrl, opts.envelopeSecrets));
  const state = cap.prepare(ctx, config);
  const logs: { level: string; message: string }[] = [];
  const controller = new AbortController();
  const fn = cap.interfaces[0]!.functions[opts.fn ?? 'call']!;
  return {
    logs,
    call: (route: unknown, payload?: Uint8Array): Promise<HostResult> =>
      Promise.resolve(
        fn({
          args: [route, payload],
          ctx,
          config,
          state,
          services: { log: (level, message) => logs.push({ level, message }), noteDenied: () => undefined, signal: controller.signal },
        }),
      ),
  };
}

let upstream: LoopbackServer;
let base: string;

before(async () => {
  upstream = await startServer((req, res, body) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const status = /^\/api\/ext\/status\/(\d{3})$/.exec(url.pathname);
    if (status) {
      const code = Number(status[1]);
      if (code >= 300 && code < 400) res.setHeader('location', '/api/ext/echo');
      res.writeHead(code).end(code === 204 ? undefined : `status ${code}`);
    } else if (url.pathname === '/api/ext/echo') {
      res.end(JSON.stringify({ method: req.method, path: url.pathname + url.search, body: body.toString() }));
    } else if (url.pathname === '/api/ext/big') {
      res.end(Buffer.alloc(4096));
    } else if (url.pathname === '/api/ext/silent') {
      // never answers
    } else {
      res.writeHead(404).end();
    }
  });
  base = `${upstream.origin}/api/ext`;
});
after(() => upstream.close());

describe('cap:ui.proxy', () => {
  const cap = createUiProxyCapability({ getSecret: secrets });

  it('declares its name, interface, both dialects, and denied answers', () => {
    assert.equal(cap.name, UI_PROXY_CAPABILITY);
    assert.equal(cap.grantedByDefault, false);
    assert.equal(cap.interfaces[0]!.name, UI_PROXY_INTERFACE);
    assert.deepEqual(Object.keys(cap.interfaces[0]!.functions).sort(), ['call', 'callRoute']);
    assert.deepEqual(cap.interfaces[0]!.denied, { call: { kind: 'err', code: 'denied' }, callRoute: { kind: 'err', code: 'denied' } });
  });

  it('POSTs a payload under the base path with the identity and credential headers added by the host', async () => {
    const run = execution(cap, base);
    const payload = new TextEncoder().encode('{"q":1}');
    const result = await run.call('/echo?x=1', payload);
    assert.equal(result.kind, 'ok');
    const body = (result as { value: Uint8Array }).value;
    assert.ok(body instanceof Uint8Array);
    assert.deepEqual(JSON.parse(Buffer.from(body).toString()), { method: 'POST', path: '/api/ext/echo?x=1', body: '{"q":1}' });
    const seen = upstream.requests.at(-1)!;
    assert.equal(seen.headers['x-alga-tenant'], 'tenant-1');
    assert.equal(seen.headers['x-alga-extension'], 'ext-1');
    assert.equal(seen.headers['x-alga-install'], 'inst-1');
    assert.equal(seen.headers['x-request-id'], 'req-42');
    assert.equal(seen.headers['x-alga-user-id'], 'user-7');
    assert.equal(seen.headers['x-api-key'], SECRET);
    assert.equal(seen.headers['content-type'], 'application/json');
  });

  it('GETs without a payload; no user → no user header; no secret → no credential header', async () => {
    const noSecret = createUiProxyCapability({ getSecret: async () => undefined });
    const run = execution(noSecret, base, { withUser: false });
    const result = await run.call('/echo');
    assert.equal(result.kind, 'ok');
    const seen = upstream.requests.at(-1)!;
    assert.equal(seen.method, 'GET');
    assert.equal(seen.headers['x-alga-user-id'], undefined);
    assert.equal(seen.headers['x-api-key'], undefined);
    assert.equal(seen.headers['content-type'], undefined);
  });

  it("sends the envelope's api_key (RUNNER_ENVELOPE_SECRETS) over the stored one, as Alga's runner sends it", async () => {
    const run = execution(cap, base, { envelopeSecrets: { api_key: 'from-envelope' } });
    assert.equal((await run.call('/echo')).kind, 'ok');
    assert.equal(upstream.requests.at(-1)!.headers['x-api-key'], 'from-envelope');
    // an envelope without the name leaves the stored credential
    const other = execution(cap, base, { envelopeSecrets: { webhook: 'w' } });
    assert.equal((await other.call('/echo')).kind, 'ok');
    assert.equal(upstream.requests.at(-1)!.headers['x-api-key'], SECRET);
  });

  it('serves the later dialect callRoute with the same behaviour', async () => {
    const run = execution(cap, base, { fn: 'callRoute' });
    const result = await run.call('/echo', new Uint8Array([0xff, 0x00]));
    assert.equal(result.kind, 'ok');
    assert.equal(upstream.requests.at(-1)!.headers['content-type'], 'application/octet-stream');
  });

  const statusTable: ReadonlyArray<[status: number, expected: HostResult['kind'] | string]> = [
    [200, 'ok'],
    [201, 'ok'],
    [204, 'ok'],
    [302, 'internal'],
    [400, 'bad-request'],
    [401, 'denied'],
    [403, 'denied'],
    [404, 'route-not-found'],
    [409, 'bad-request'],
    [422, 'bad-request'],
    [429, 'denied'],
    [500, 'internal'],
    [502, 'internal'],
    [503, 'internal'],
  ];
  for (const [status, expected] of statusTable) {
    it(`upstream ${status} → ${expected}`, async () => {
      const run = execution(cap, base);
      const before = upstream.requests.length;
      const result = await run.call(`/status/${status}`);
      if (expected === 'ok') {
        assert.equal(result.kind, 'ok');
        const body = Buffer.from((result as { value: Uint8Array }).value).toString();
        assert.equal(body, status === 204 ? '' : `status ${status}`);
      } else {
        assert.deepEqual(result, { kind: 'err', code: expected });
        assert.match(run.logs.at(-1)!.message, new RegExp(`upstream answered ${status}`));
      }
      // one request each: a 3xx is not followed to its location
      assert.equal(upstream.requests.length, before + 1);
    });
  }

  it('an unknown route on the upstream (404) is route-not-found', async () => {
    assert.deepEqual(await execution(cap, base).call('/no/such/route'), { kind: 'err', code: 'route-not-found' });
  });

  it('no upstream configured → route-not-found', async () => {
    const run = execution(cap, null);
    assert.deepEqual(await run.call('/echo'), { kind: 'err', code: 'route-not-found' });
    assert.match(run.logs[0]!.message, /no upstream configured/);
  });

  it('a misconfigured upstream → internal, with the reason logged', async () => {
    const run = execution(cap, 'ftp://files.example/');
    assert.deepEqual(await run.call('/echo'), { kind: 'err', code: 'internal' });
    assert.match(run.logs[0]!.message, /scheme ftp: is not http or https/);
  });

  const badRoutes = [
    'echo',
    '',
    '/a/../echo',
    '/..',
    '/a/%2e%2e/echo',
    '/a/%2E%2E/echo',
    '/a//echo',
    '//evil.example/x',
    '/a\\echo',
    '/a%5cecho',
    '/x/http://evil.example/',
    '/a b',
    '/a#frag',
    '/a%zz',
  ];
  for (const route of badRoutes) {
    it(`route ${JSON.stringify(route)} → bad-request without reaching the upstream`, async () => {
      const run = execution(cap, base);
      const before = upstream.requests.length;
      assert.deepEqual(await run.call(route), { kind: 'err', code: 'bad-request' });
      assert.equal(upstream.requests.length, before);
      assert.ok(routeProblem(route) !== null);
    });
  }

  it('a base URL with a trailing slash joins the same way', async () => {
    const result = await execution(cap, `${base}/`).call('/echo');
    assert.equal(result.kind, 'ok');
    assert.equal(upstream.requests.at(-1)!.url, '/api/ext/echo');
  });

  it('network errors → internal', async () => {
    const run = execution(cap, `http://127.0.0.1:${await closedPort()}/api`);
    assert.deepEqual(await run.call('/echo'), { kind: 'err', code: 'internal' });
    assert.match(run.logs.at(-1)!.message, /ECONNREFUSED/);
  });

  it('times out → internal', async () => {
    const quick = createUiProxyCapability({ getSecret: secrets, limits: { timeoutMs: 100 } });
    const run = execution(quick, base);
    assert.deepEqual(await run.call('/silent'), { kind: 'err', code: 'internal' });
    assert.match(run.logs.at(-1)!.message, /timed out after 100 ms/);
  });

  it('a response over the cap → internal', async () => {
    const small = createUiProxyCapability({ getSecret: secrets, limits: { maxResponseBytes: 1024 } });
    const run = execution(small, base);
    assert.deepEqual(await run.call('/big'), { kind: 'err', code: 'internal' });
    assert.match(run.logs.at(-1)!.message, /exceeds the 1024-byte limit/);
  });

  it('a payload over the cap → bad-request without reaching the upstream', async () => {
    const small = createUiProxyCapability({ getSecret: secrets, limits: { maxPayloadBytes: 8 } });
    const before = upstream.requests.length;
    assert.deepEqual(await execution(small, base).call('/echo', new Uint8Array(9)), { kind: 'err', code: 'bad-request' });
    assert.equal(upstream.requests.length, before);
  });

  it('a failing secrets store → internal', async () => {
    const broken = createUiProxyCapability({ getSecret: async () => Promise.reject(new Error('store offline')) });
    const run = execution(broken, base);
    assert.deepEqual(await run.call('/echo'), { kind: 'err', code: 'internal' });
    assert.match(run.logs.at(-1)!.message, /store offline/);
  });

  it('never logs the credential', async () => {
    const run = execution(cap, base);
    for (const route of ['/status/500', '/status/403', '/echo', '/a/../b']) await run.call(route);
    assert.ok(run.logs.length >= 3);
    for (const { message } of run.logs) assert.ok(!message.includes(SECRET), message);
  });
});

describe('proxyErrorForStatus', () => {
  it('maps an upstream status to the guest error: 404 route-not-found, 401/403/429 denied, other 4xx bad-request, else internal', () => {
    assert.equal(proxyErrorForStatus(404), 'route-not-found');
    for (const s of [401, 403, 429]) assert.equal(proxyErrorForStatus(s), 'denied');
    for (const s of [400, 405, 413, 451]) assert.equal(proxyErrorForStatus(s), 'bad-request');
    for (const s of [500, 504, 301]) assert.equal(proxyErrorForStatus(s), 'internal');
  });
});
