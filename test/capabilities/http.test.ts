/** `cap:http.fetch` as the engine calls it: configure → prepare → interface function. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHttpCapability, HTTP_CAPABILITY, HTTP_INTERFACE } from '../../src/capabilities/http.js';
import type { HttpCapabilityOptions, HttpConfig, HttpState } from '../../src/capabilities/http.js';
import type { Capability, ExecutionServices, HostResult, InstallView } from '../../src/capabilities/capability.js';
import type { ExecutionContext } from '../../src/contract/index.js';
import { closedPort, startServer, watchClientSockets } from '../net/loopback.js';
import type { LoopbackServer } from '../net/loopback.js';

const ctx: ExecutionContext = {
  requestId: 'req-1',
  tenantId: 'tenant-1',
  extensionId: 'ext-1',
  installId: 'inst-1',
  versionId: 'v1',
  contentHash: 'sha256:00',
  user: null,
  config: {},
};

function install(egressAllow: string[]): InstallView {
  return { installId: 'inst-1', tenantId: 'tenant-1', extensionId: 'ext-1', versionId: 'v1', config: {}, egressAllow, uiProxy: null };
}

interface Recorder {
  services: ExecutionServices;
  logs: { level: string; message: string }[];
  abort(): void;
}

function recorder(): Recorder {
  const logs: { level: string; message: string }[] = [];
  const controller = new AbortController();
  return {
    logs,
    abort: () => controller.abort(),
    services: {
      log: (level, message) => logs.push({ level, message }),
      noteDenied: () => assert.fail('the http capability never reports grant denials itself'),
      signal: controller.signal,
    },
  };
}

/** One execution: configure once for the install, prepare state, call `fetch` as the bridge would. */
function execution(cap: Capability<HttpConfig, HttpState>, allow: string[]) {
  const config = cap.configure(install(allow));
  const state = cap.prepare(ctx, config);
  const rec = recorder();
  const fetch = cap.interfaces[0]!.functions['fetch']!;
  return {
    ...rec,
    call: (request: unknown): Promise<HostResult> => Promise.resolve(fetch({ args: [request], ctx, config, state, services: rec.services })),
  };
}

let server: LoopbackServer;
const options: HttpCapabilityOptions = { allowPrivate: false, allowAddresses: new Set(['127.0.0.1']) };

before(async () => {
  server = await startServer((req, res, body) => {
    res.setHeader('x-answer', 'yes');
    res.end(`${req.method} ${req.url} ${body.toString()}`);
  });
});
after(() => server.close());

describe('cap:http.fetch', () => {
  it('declares its name, interface, and the not-allowed answer when not granted', () => {
    const cap = createHttpCapability({ allowPrivate: false });
    assert.equal(cap.name, HTTP_CAPABILITY);
    assert.equal(cap.grantedByDefault, false);
    assert.equal(cap.interfaces[0]!.name, HTTP_INTERFACE);
    assert.deepEqual(cap.interfaces[0]!.denied['fetch'], { kind: 'err', code: 'not-allowed' });
  });

  it('returns status, header list and body bytes for an allowed fetch', async () => {
    const run = execution(createHttpCapability(options), [server.origin]);
    const result = await run.call({ method: 'POST', url: `${server.origin}/hello?x=1`, headers: [{ name: 'content-type', value: 'text/plain' }], body: new TextEncoder().encode('hi') });
    assert.equal(result.kind, 'ok');
    const response = (result as { value: { status: number; headers: { name: string; value: string }[]; body: Uint8Array } }).value;
    assert.equal(response.status, 200);
    assert.ok(response.headers.some((h) => h.name === 'x-answer' && h.value === 'yes'));
    assert.ok(response.body instanceof Uint8Array);
    assert.equal(Buffer.from(response.body).toString(), 'POST /hello?x=1 hi');
  });

  it('refuses destinations outside the allowlist, and private ones, with not-allowed and a logged reason', async () => {
    const run = execution(createHttpCapability({ allowPrivate: false }), ['http://10.0.0.1', server.origin]);
    const watch = watchClientSockets();
    try {
      assert.deepEqual(await run.call({ method: 'GET', url: 'https://example.com/', headers: [] }), { kind: 'err', code: 'not-allowed' });
      assert.deepEqual(await run.call({ method: 'GET', url: 'http://10.0.0.1/', headers: [] }), { kind: 'err', code: 'not-allowed' });
      assert.deepEqual(await run.call({ method: 'GET', url: `${server.origin}/`, headers: [] }), { kind: 'err', code: 'not-allowed' });
      assert.equal(watch.opened.length, 0);
    } finally {
      watch.stop();
    }
    assert.match(run.logs[0]!.message, /example\.com is not in the install's egress allowlist/);
    assert.match(run.logs[1]!.message, /10\.0\.0\.1 is private/);
    assert.match(run.logs[2]!.message, /127\.0\.0\.1 is loopback/);
  });

  it('allowPrivate (RUNNER_EGRESS_ALLOW_PRIVATE=1) reaches loopback', async () => {
    const run = execution(createHttpCapability({ allowPrivate: true }), [server.origin]);
    const result = await run.call({ method: 'GET', url: `${server.origin}/`, headers: [] });
    assert.equal(result.kind, 'ok');
  });

  it('maps bad methods and URLs to invalid-url and network failures to transport', async () => {
    const refusing = `http://127.0.0.1:${await closedPort()}`;
    const run = execution(createHttpCapability(options), [server.origin, refusing]);
    assert.deepEqual(await run.call({ method: 'G T', url: `${server.origin}/`, headers: [] }), { kind: 'err', code: 'invalid-url' });
    assert.deepEqual(await run.call({ method: 'GET', url: 'gopher://x/', headers: [] }), { kind: 'err', code: 'invalid-url' });
    assert.deepEqual(await run.call({ method: 'GET', url: `${refusing}/`, headers: [] }), { kind: 'err', code: 'transport' });
    assert.deepEqual(await run.call({ nonsense: true }), { kind: 'err', code: 'invalid-url' });
  });

  it('does not put query strings (often tokens) in the log', async () => {
    const run = execution(createHttpCapability({ allowPrivate: false }), []);
    await run.call({ method: 'GET', url: 'https://api.example.com/x?token=s3cr3t', headers: [] });
    assert.equal(run.logs.length, 1);
    assert.ok(!run.logs[0]!.message.includes('s3cr3t'), run.logs[0]!.message);
  });

  it('enforces the per-execution fetch budget, and a new execution gets a fresh one', async () => {
    const cap = createHttpCapability({ ...options, limits: { fetchesPerExecution: 3 } });
    const run = execution(cap, [server.origin]);
    for (let i = 0; i < 3; i++) assert.equal((await run.call({ method: 'GET', url: `${server.origin}/${i}`, headers: [] })).kind, 'ok');
    const served = server.requests.length;
    assert.deepEqual(await run.call({ method: 'GET', url: `${server.origin}/4`, headers: [] }), { kind: 'err', code: 'not-allowed' });
    assert.equal(server.requests.length, served, 'the over-budget fetch never left the host');
    assert.match(run.logs.at(-1)!.message, /budget of 3 fetches per execution is spent/);

    const next = execution(cap, [server.origin]);
    assert.equal((await next.call({ method: 'GET', url: `${server.origin}/again`, headers: [] })).kind, 'ok');
  });

  it('defaults to 50 fetches per execution', async () => {
    const cap = createHttpCapability({ allowPrivate: false });
    assert.equal(cap.prepare(ctx, cap.configure(install([]))).fetchesLeft, 50);
  });

  it('refuses every fetch of an install whose stored allowlist is invalid, saying why', async () => {
    const run = execution(createHttpCapability(options), [server.origin, 'ftp://nope']);
    assert.deepEqual(await run.call({ method: 'GET', url: `${server.origin}/`, headers: [] }), { kind: 'err', code: 'not-allowed' });
    assert.match(run.logs[0]!.message, /egress allowlist is invalid: .*scheme must be http or https/);
  });

  it('logs the headers it dropped (Host) and the server never sees the guest value', async () => {
    const run = execution(createHttpCapability(options), [server.origin]);
    const result = await run.call({ method: 'GET', url: `${server.origin}/`, headers: [{ name: 'Host', value: 'evil.example' }] });
    assert.equal(result.kind, 'ok');
    assert.equal(server.requests.at(-1)!.headers.host, `127.0.0.1:${server.port}`);
    assert.match(run.logs.at(-1)!.message, /dropped request headers .*host/);
  });

  it('stops an in-flight fetch when the execution ends', async () => {
    let run!: ReturnType<typeof execution>;
    const silent = await startServer(() => run.abort());
    try {
      run = execution(createHttpCapability(options), [silent.origin]);
      assert.deepEqual(await run.call({ method: 'GET', url: `${silent.origin}/`, headers: [] }), { kind: 'err', code: 'transport' });
      assert.match(run.logs.at(-1)!.message, /execution ended/);
    } finally {
      await silent.close();
    }
  });
});
