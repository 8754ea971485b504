/**
 * The SSRF guard against real loopback servers. Every "private" destination in these tests is
 * refused before a socket exists: each refusal asserts that no client socket was opened, so no
 * test ever sends a packet anywhere but loopback.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { EgressAllowlist } from '../../src/net/egress-allowlist.js';
import { guardedFetch } from '../../src/net/guarded-fetch.js';
import type { EgressPolicy, GuardedFetchResult, GuardedRequest, ResolvedAddress, Resolver } from '../../src/net/guarded-fetch.js';
import { closedPort, startServer, watchClientSockets } from './loopback.js';
import type { LoopbackServer } from './loopback.js';

function allowlist(patterns: string[]): EgressAllowlist {
  const compiled = EgressAllowlist.compile(patterns);
  assert.ok(compiled.ok, compiled.ok ? '' : compiled.errors.join('; '));
  return compiled.allowlist;
}

function get(url: string, headers: GuardedRequest['headers'] = []): GuardedRequest {
  return { method: 'GET', url, headers };
}

/** Resolver for names under `.test` (reserved: never in real DNS), with a call log. */
function mapResolver(map: Record<string, readonly string[]>): Resolver & { calls: string[] } {
  const calls: string[] = [];
  const resolve = async (hostname: string): Promise<readonly ResolvedAddress[]> => {
    calls.push(hostname);
    return (map[hostname] ?? []).map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  };
  return Object.assign(resolve, { calls });
}

function expectErr(result: GuardedFetchResult, code: string, reason: RegExp): void {
  assert.equal(result.kind, 'err', result.kind === 'ok' ? `unexpectedly got status ${result.response.status}` : '');
  if (result.kind !== 'err') return;
  assert.equal(result.code, code, result.reason);
  assert.match(result.reason, reason);
}

function expectOk(result: GuardedFetchResult): Extract<GuardedFetchResult, { kind: 'ok' }>['response'] {
  if (result.kind === 'err') assert.fail(`expected ok, got ${result.code}: ${result.reason}`);
  return result.response;
}

/** Runs `work` and asserts it opened no client socket at all. */
async function withoutConnecting(work: () => Promise<GuardedFetchResult>): Promise<GuardedFetchResult> {
  const watch = watchClientSockets();
  try {
    const result = await work();
    assert.equal(watch.opened.length, 0, 'a refused fetch must not open a socket');
    return result;
  } finally {
    watch.stop();
  }
}

let server: LoopbackServer;
let other: LoopbackServer; // 127.0.0.2: a second loopback address that tests must never reach
const onlyLoopbackServer = new Set(['127.0.0.1']);

before(async () => {
  server = await startServer((req, res, body) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === '/echo') {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ method: req.method, host: req.headers.host, body: body.toString('utf8') }));
    } else if (url.pathname === '/redirect') {
      res.writeHead(Number(url.searchParams.get('status') ?? 302), { location: url.searchParams.get('to') ?? '/echo' });
      res.end();
    } else if (url.pathname.startsWith('/loop/')) {
      const n = Number(url.pathname.slice('/loop/'.length));
      const stop = Number(url.searchParams.get('stop') ?? Infinity);
      if (n >= stop) res.end(`stopped at ${n}`);
      else res.writeHead(302, { location: `/loop/${n + 1}${url.search}` }).end();
    } else {
      res.statusCode = 404;
      res.end('not found');
    }
  });
  other = await startServer((_req, res) => res.end('you should not see this'), '127.0.0.2');
});

after(async () => {
  await server.close();
  await other.close();
});

describe('SSRF guard: refused destinations (table)', () => {
  const cases: ReadonlyArray<[name: string, url: () => string, reason: RegExp, resolver?: Resolver]> = [
    ['loopback IPv4', () => `http://127.0.0.1:${server.port}/echo`, /127\.0\.0\.1 is loopback/],
    ['loopback IPv4, other address in 127/8', () => `http://127.0.0.2:${other.port}/`, /127\.0\.0\.2 is loopback/],
    ['loopback IPv6', () => 'http://[::1]/', /::1 is loopback/],
    ['10/8', () => 'http://10.0.0.1/', /10\.0\.0\.1 is private/],
    ['172.16/12 low end', () => 'http://172.16.0.1/', /172\.16\.0\.1 is private/],
    ['172.16/12 high end', () => 'http://172.31.255.254/', /172\.31\.255\.254 is private/],
    ['192.168/16', () => 'http://192.168.1.1/', /192\.168\.1\.1 is private/],
    ['100.64/10 (CGNAT)', () => 'http://100.64.0.1/', /100\.64\.0\.1 is carrier-grade NAT/],
    ['cloud metadata 169.254.169.254', () => 'http://169.254.169.254/latest/meta-data/', /169\.254\.169\.254 is cloud metadata/],
    ['cloud metadata fd00:ec2::254', () => 'http://[fd00:ec2::254]/', /cloud metadata/],
    ['link-local 169.254/16', () => 'http://169.254.10.10/', /link-local/],
    ['link-local fe80::/10', () => 'http://[fe80::1]/', /link-local/],
    ['unique-local fc00::/7', () => 'http://[fd12::1]/', /unique-local/],
    ['0.0.0.0', () => 'http://0.0.0.0/', /0\.0\.0\.0 is unspecified/],
    ['::', () => 'http://[::]/', /unspecified/],
    ['IPv4-mapped IPv6 loopback', () => 'http://[::ffff:127.0.0.1]/', /loopback \(IPv4-mapped\)/],
    ['IPv4-mapped IPv6 private', () => 'http://[::ffff:10.0.0.1]/', /private \(IPv4-mapped\)/],
    ['IPv4-mapped IPv6 metadata', () => 'http://[::ffff:169.254.169.254]/', /cloud metadata/],
    ['NAT64 of a private address', () => 'http://[64:ff9b::10.0.0.1]/', /private \(NAT64\)/],
    ['6to4 of a private address', () => 'http://[2002:c0a8:0101::1]/', /private \(6to4\)/],
    ['decimal IPv4 spelling', () => `http://2130706433:${server.port}/echo`, /127\.0\.0\.1 is loopback/],
    ['hex IPv4 spelling', () => `http://0x7f.1:${server.port}/echo`, /127\.0\.0\.1 is loopback/],
    ['octal IPv4 spelling', () => `http://017700000001:${server.port}/echo`, /127\.0\.0\.1 is loopback/],
    ['short IPv4 spelling', () => `http://127.1:${server.port}/echo`, /127\.0\.0\.1 is loopback/],
    ['multicast', () => 'http://224.0.0.1/', /multicast/],
    ['broadcast', () => 'http://255.255.255.255/', /broadcast/],
    ['reserved (TEST-NET-1)', () => 'http://192.0.2.1/', /reserved/],
    ['name resolving to a private address (system resolver, localhost)', () => `http://localhost:${server.port}/echo`, /localhost resolves to .*, which is loopback/],
    ['name resolving to 10.0.0.1 (injected resolver)', () => 'http://intranet.test/', /intranet\.test resolves to 10\.0\.0\.1, which is private/, mapResolver({ 'intranet.test': ['10.0.0.1'] })],
    ['name with one public and one private address', () => 'http://mixed.test/', /mixed\.test resolves to 10\.0\.0\.1, which is private/, mapResolver({ 'mixed.test': ['93.184.215.14', '10.0.0.1'] })],
    ['name resolving to a metadata address', () => 'http://meta.test/', /cloud metadata/, mapResolver({ 'meta.test': ['169.254.169.254'] })],
  ];

  for (const [name, url, reason, resolver] of cases) {
    it(`refuses ${name} before connecting`, async () => {
      const target = new URL(url());
      // The allowlist admits the destination, so only the address policy can refuse it.
      const policy: EgressPolicy = { allowlist: allowlist([`${target.protocol}//${target.host}`]), allowPrivate: false, resolve: resolver };
      const before = { connections: server.connections + other.connections };
      const result = await withoutConnecting(() => guardedFetch(get(url()), policy));
      expectErr(result, 'not-allowed', reason);
      assert.equal(server.connections + other.connections, before.connections);
    });
  }

  it('control: the same loopback server is reachable once its exact address is allowed', async () => {
    const policy: EgressPolicy = { allowlist: allowlist([server.origin]), allowPrivate: false, allowAddresses: onlyLoopbackServer };
    const watch = watchClientSockets();
    try {
      const response = expectOk(await guardedFetch(get(`${server.origin}/echo`), policy));
      assert.equal(response.status, 200);
      assert.equal(response.remoteAddress, '127.0.0.1');
      // the socket watcher the refusals rely on does see a real connection
      assert.equal(watch.opened.length, 1);
    } finally {
      watch.stop();
    }
  });

  it('control: allowPrivate lets loopback through, spelled in decimal too', async () => {
    const policy: EgressPolicy = { allowlist: allowlist([server.origin]), allowPrivate: true };
    const response = expectOk(await guardedFetch(get(`http://2130706433:${server.port}/echo`), policy));
    assert.equal(response.status, 200);
  });

  it('allowPrivate never opens cloud metadata', async () => {
    const policy: EgressPolicy = { allowlist: allowlist(['http://169.254.169.254']), allowPrivate: true };
    expectErr(await withoutConnecting(() => guardedFetch(get('http://169.254.169.254/'), policy)), 'not-allowed', /cloud metadata/);
  });
});

describe('allowlist and request validation', () => {
  const policy = (): EgressPolicy => ({ allowlist: allowlist([server.origin]), allowPrivate: false, allowAddresses: onlyLoopbackServer });

  it('an empty allowlist allows nothing', async () => {
    const result = await withoutConnecting(() => guardedFetch(get(`${server.origin}/echo`), { allowlist: EgressAllowlist.empty, allowPrivate: true }));
    expectErr(result, 'not-allowed', /not in the install's egress allowlist/);
  });

  it('a port the allowlist does not name is refused', async () => {
    const result = await withoutConnecting(() => guardedFetch(get(`http://127.0.0.1:${other.port}/`), policy()));
    expectErr(result, 'not-allowed', /allowlist/);
  });

  const invalid: ReadonlyArray<[name: string, request: () => GuardedRequest, code: string, reason: RegExp]> = [
    ['method with a space', () => ({ method: 'GE T', url: `${server.origin}/echo`, headers: [] }), 'invalid-url', /not an HTTP token/],
    ['empty method', () => ({ method: '', url: `${server.origin}/echo`, headers: [] }), 'invalid-url', /not an HTTP token/],
    ['CONNECT', () => ({ method: 'connect', url: `${server.origin}/echo`, headers: [] }), 'not-allowed', /CONNECT/],
    ['TRACE', () => ({ method: 'TRACE', url: `${server.origin}/echo`, headers: [] }), 'not-allowed', /TRACE/],
    ['relative URL', () => get('/echo'), 'invalid-url', /not a valid absolute URL/],
    ['non-http scheme', () => get('file:///etc/passwd'), 'invalid-url', /scheme file: is not http/],
    ['credentials in URL', () => get(`http://u:p@127.0.0.1:${server.port}/echo`), 'invalid-url', /credentials/],
    ['header name not a token', () => get(`${server.origin}/echo`, [{ name: 'x bad', value: '1' }]), 'invalid-url', /not an HTTP token/],
    ['header value with CRLF', () => get(`${server.origin}/echo`, [{ name: 'x-a', value: 'a\r\nx-injected: 1' }]), 'invalid-url', /forbidden characters/],
  ];
  for (const [name, request, code, reason] of invalid) {
    it(`refuses ${name} → ${code}`, async () => {
      expectErr(await withoutConnecting(() => guardedFetch(request(), policy())), code, reason);
    });
  }

  it('normalises standard methods and sends other tokens as given', async () => {
    const lower = expectOk(await guardedFetch({ method: 'post', url: `${server.origin}/echo`, headers: [], body: new TextEncoder().encode('hi') }, policy()));
    assert.deepEqual(JSON.parse(Buffer.from(lower.body).toString()), { method: 'POST', host: `127.0.0.1:${server.port}`, body: 'hi' });
    const custom = expectOk(await guardedFetch({ method: 'PATCH', url: `${server.origin}/echo`, headers: [] }, policy()));
    assert.equal(JSON.parse(Buffer.from(custom.body).toString()).method, 'PATCH');
  });
});

describe('headers', () => {
  it('the guest cannot set Host, and hop-by-hop headers are dropped; others pass, repeated ones too', async () => {
    const policy: EgressPolicy = { allowlist: allowlist([server.origin]), allowPrivate: false, allowAddresses: onlyLoopbackServer };
    const response = expectOk(
      await guardedFetch(
        get(`${server.origin}/echo`, [
          { name: 'Host', value: 'metadata.google.internal' },
          { name: 'Connection', value: 'close, x-hop' },
          { name: 'x-hop', value: 'named by Connection' },
          { name: 'Keep-Alive', value: 'timeout=5' },
          { name: 'Transfer-Encoding', value: 'chunked' },
          { name: 'TE', value: 'trailers' },
          { name: 'Upgrade', value: 'websocket' },
          { name: 'Proxy-Authorization', value: 'Basic x' },
          { name: 'Content-Length', value: '999' },
          { name: 'x-kept', value: 'yes' },
          { name: 'x-multi', value: 'one' },
          { name: 'x-multi', value: 'two' },
        ]),
        policy,
      ),
    );
    assert.equal(JSON.parse(Buffer.from(response.body).toString()).host, `127.0.0.1:${server.port}`);
    const seen = server.requests.at(-1)!;
    assert.equal(seen.headers.host, `127.0.0.1:${server.port}`);
    for (const name of ['x-hop', 'keep-alive', 'transfer-encoding', 'te', 'upgrade', 'proxy-authorization']) {
      assert.equal(seen.headers[name], undefined, `${name} must not reach the server`);
    }
    assert.equal(seen.headers['content-length'], undefined);
    assert.equal(seen.headers['x-kept'], 'yes');
    assert.equal(seen.headers['x-multi'], 'one, two');
    assert.deepEqual([...response.droppedRequestHeaders].sort(), ['connection', 'content-length', 'host', 'keep-alive', 'proxy-authorization', 'te', 'transfer-encoding', 'upgrade', 'x-hop']);
    // response headers come back as a list, without hop-by-hop ones
    assert.ok(response.headers.some((h) => h.name.toLowerCase() === 'content-type' && h.value === 'application/json'));
    assert.ok(!response.headers.some((h) => h.name.toLowerCase() === 'connection'));
  });
});

describe('pinning: the connection goes to the address that was checked', () => {
  it('connects to the resolved address with the name kept in Host, resolving once', async () => {
    const resolver = mapResolver({ 'pinned.test': ['127.0.0.1'] });
    const policy: EgressPolicy = { allowlist: allowlist([`http://pinned.test:${server.port}`]), allowPrivate: false, allowAddresses: onlyLoopbackServer, resolve: resolver };
    const response = expectOk(await guardedFetch(get(`http://pinned.test:${server.port}/echo`), policy));
    // `.test` is not in any real DNS: reaching the server at all proves the checked address was used.
    assert.equal(response.status, 200);
    assert.equal(response.remoteAddress, '127.0.0.1');
    assert.equal(server.requests.at(-1)!.headers.host, `pinned.test:${server.port}`);
    assert.equal(server.requests.at(-1)!.localAddress, '127.0.0.1');
    assert.deepEqual(resolver.calls, ['pinned.test']);
  });

  it('a name that rebinds to another address on the next hop is re-checked and refused', async () => {
    let calls = 0;
    const rebinding: Resolver = async () => (calls++ === 0 ? [{ address: '127.0.0.1', family: 4 }] : [{ address: '127.0.0.2', family: 4 }]);
    const policy: EgressPolicy = {
      allowlist: allowlist([`http://rebind.test:${server.port}`]),
      allowPrivate: false,
      allowAddresses: onlyLoopbackServer,
      resolve: rebinding,
    };
    const served = server.requests.length;
    const otherConnections = other.connections;
    const result = await guardedFetch(get(`http://rebind.test:${server.port}/redirect?to=/echo`), policy);
    expectErr(result, 'not-allowed', /rebind\.test resolves to 127\.0\.0\.2, which is loopback/);
    assert.equal(server.requests.length, served + 1, 'only the first hop reached the server');
    assert.equal(other.connections, otherConnections);
    assert.equal(calls, 2);
  });
});

describe('redirects', () => {
  const policy = (extra: Partial<EgressPolicy> = {}): EgressPolicy => ({
    allowlist: allowlist([server.origin, `http://127.0.0.2:${other.port}`]),
    allowPrivate: false,
    allowAddresses: onlyLoopbackServer,
    ...extra,
  });

  it('refuses a redirect to a private address without connecting to it', async () => {
    const otherConnections = other.connections;
    const to = encodeURIComponent(`http://127.0.0.2:${other.port}/`);
    const result = await guardedFetch(get(`${server.origin}/redirect?to=${to}`), policy());
    expectErr(result, 'not-allowed', /127\.0\.0\.2 is loopback/);
    assert.equal(other.connections, otherConnections, 'the redirect target must never be dialled');
  });

  it('refuses a redirect to the metadata address', async () => {
    const to = encodeURIComponent('http://169.254.169.254/latest/meta-data/');
    const p = policy({ allowlist: allowlist([server.origin, 'http://169.254.169.254']) });
    expectErr(await guardedFetch(get(`${server.origin}/redirect?to=${to}`), p), 'not-allowed', /cloud metadata/);
  });

  it('refuses a redirect to a host outside the allowlist', async () => {
    const to = encodeURIComponent('https://elsewhere.example/');
    expectErr(await guardedFetch(get(`${server.origin}/redirect?to=${to}`), policy()), 'not-allowed', /elsewhere\.example is not in/);
  });

  it('refuses a redirect whose target carries userinfo, without following it', async () => {
    const before = server.requests.length;
    const to = encodeURIComponent(`http://user:secret@127.0.0.1:${server.port}/echo`);
    expectErr(await guardedFetch(get(`${server.origin}/redirect?to=${to}`), policy()), 'not-allowed', /carrying credentials/);
    assert.equal(server.requests.length, before + 1, 'only the redirecting request reached the server');
  });

  it('refuses a redirect to a non-http scheme', async () => {
    const to = encodeURIComponent('file:///etc/passwd');
    expectErr(await guardedFetch(get(`${server.origin}/redirect?to=${to}`), policy()), 'not-allowed', /scheme file:/);
  });

  it('follows up to 5 redirects and stops at the 6th', async () => {
    const five = expectOk(await guardedFetch(get(`${server.origin}/loop/0?stop=5`), policy()));
    assert.equal(five.redirects, 5);
    assert.equal(Buffer.from(five.body).toString(), 'stopped at 5');

    const served = server.requests.length;
    expectErr(await guardedFetch(get(`${server.origin}/loop/0`), policy()), 'transport', /too many redirects \(limit 5\)/);
    assert.equal(server.requests.length - served, 6, 'the first request and 5 redirects, no more');
  });

  it('honours a smaller redirect limit, and `return` hands the 3xx back', async () => {
    expectErr(await guardedFetch(get(`${server.origin}/loop/0`), policy({ limits: { maxRedirects: 1 } })), 'transport', /limit 1/);
    const raw = expectOk(await guardedFetch(get(`${server.origin}/redirect?to=/echo`), policy({ redirects: 'return' })));
    assert.equal(raw.status, 302);
    assert.ok(raw.headers.some((h) => h.name.toLowerCase() === 'location' && h.value === '/echo'));
  });

  it('303 turns POST into GET without the body; 307 keeps both', async () => {
    const body = new TextEncoder().encode('payload');
    const post = (status: number): GuardedRequest => ({
      method: 'POST',
      url: `${server.origin}/redirect?status=${status}&to=/echo`,
      headers: [{ name: 'content-type', value: 'text/plain' }],
      body,
    });
    const after303 = JSON.parse(Buffer.from(expectOk(await guardedFetch(post(303), policy())).body).toString());
    assert.deepEqual({ method: after303.method, body: after303.body }, { method: 'GET', body: '' });
    assert.equal(server.requests.at(-1)!.headers['content-type'], undefined);
    const after307 = JSON.parse(Buffer.from(expectOk(await guardedFetch(post(307), policy())).body).toString());
    assert.deepEqual({ method: after307.method, body: after307.body }, { method: 'POST', body: 'payload' });
  });

  it('drops credentials on a cross-origin redirect and keeps them on a same-origin one', async () => {
    const second = await startServer((_req, res) => res.end('second'));
    try {
      const p = policy({ allowlist: allowlist([server.origin, second.origin]) });
      const auth = [
        { name: 'Authorization', value: 'Bearer s3cret' },
        { name: 'Cookie', value: 'a=b' },
      ];
      expectOk(await guardedFetch(get(`${server.origin}/redirect?to=/echo`, auth), p));
      assert.equal(server.requests.at(-1)!.headers.authorization, 'Bearer s3cret');
      expectOk(await guardedFetch(get(`${server.origin}/redirect?to=${encodeURIComponent(second.origin + '/x')}`, auth), p));
      assert.equal(second.requests.length, 1);
      assert.equal(second.requests[0]!.headers.authorization, undefined);
      assert.equal(second.requests[0]!.headers.cookie, undefined);
    } finally {
      await second.close();
    }
  });
});

describe('size caps', () => {
  it('refuses a request body over the cap without connecting', async () => {
    const policy: EgressPolicy = { allowlist: allowlist([server.origin]), allowPrivate: false, allowAddresses: onlyLoopbackServer, limits: { maxRequestBytes: 10 } };
    const request = { method: 'POST', url: `${server.origin}/echo`, headers: [], body: new Uint8Array(11) };
    expectErr(await withoutConnecting(() => guardedFetch(request, policy)), 'not-allowed', /11 bytes exceeds the 10-byte limit/);
    const atCap = expectOk(await guardedFetch({ ...request, body: new Uint8Array(10) }, policy));
    assert.equal(atCap.status, 200);
  });

  it('refuses a response whose declared length is over the cap', async () => {
    const big = await startServer((_req, res) => res.writeHead(200, { 'content-length': 2048 }).end(Buffer.alloc(2048)));
    try {
      const policy: EgressPolicy = { allowlist: allowlist([big.origin]), allowPrivate: false, allowAddresses: onlyLoopbackServer, limits: { maxResponseBytes: 1024 } };
      expectErr(await guardedFetch(get(`${big.origin}/`), policy), 'transport', /2048 bytes exceeds the 1024-byte limit/);
      const exact = expectOk(await guardedFetch(get(`${big.origin}/`), { ...policy, limits: { maxResponseBytes: 2048 } }));
      assert.equal(exact.body.byteLength, 2048);
      // HEAD declares the length of a body it does not send: not over the cap
      const head = expectOk(await guardedFetch({ method: 'HEAD', url: `${big.origin}/`, headers: [] }, policy));
      assert.equal(head.status, 200);
      assert.equal(head.body.byteLength, 0);
      assert.ok(head.headers.some((h) => h.name.toLowerCase() === 'content-length' && h.value === '2048'));
    } finally {
      await big.close();
    }
  });

  it('aborts an endless streamed response at the cap instead of buffering it', async () => {
    let serverSawClose!: () => void;
    const closed = new Promise<void>((resolve) => (serverSawClose = resolve));
    let bytesWritten = 0;
    const endless = await startServer((_req, res) => {
      res.on('close', () => serverSawClose());
      const chunk = Buffer.alloc(16 * 1024, 0x61);
      const pump = (): void => {
        while (!res.destroyed && res.write(chunk)) bytesWritten += chunk.length;
        if (!res.destroyed) res.once('drain', pump);
      };
      pump();
    });
    try {
      const policy: EgressPolicy = { allowlist: allowlist([endless.origin]), allowPrivate: false, allowAddresses: onlyLoopbackServer, limits: { maxResponseBytes: 100_000 } };
      expectErr(await guardedFetch(get(`${endless.origin}/`), policy), 'transport', /exceeds the 100000-byte limit/);
      await closed; // the server sees its response torn down
      assert.ok(bytesWritten < 50 * 1024 * 1024, 'the client stopped the stream');
    } finally {
      await endless.close();
    }
  });
});

describe('time limits and aborts', () => {
  it('times out on a server that never answers', async () => {
    let arrived!: () => void;
    const requestArrived = new Promise<void>((resolve) => (arrived = resolve));
    const silent = await startServer(() => arrived()); // never responds
    try {
      const policy: EgressPolicy = { allowlist: allowlist([silent.origin]), allowPrivate: false, allowAddresses: onlyLoopbackServer, limits: { timeoutMs: 100 } };
      const started = Date.now();
      expectErr(await guardedFetch(get(`${silent.origin}/`), policy), 'transport', /timed out after 100 ms/);
      await requestArrived;
      assert.ok(Date.now() - started < 5000);
    } finally {
      await silent.close();
    }
  });

  it('times out on a body that never ends', async () => {
    const trickle = await startServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('partial');
    });
    try {
      const policy: EgressPolicy = { allowlist: allowlist([trickle.origin]), allowPrivate: false, allowAddresses: onlyLoopbackServer, limits: { timeoutMs: 100 } };
      expectErr(await guardedFetch(get(`${trickle.origin}/`), policy), 'transport', /timed out after 100 ms/);
    } finally {
      await trickle.close();
    }
  });

  it('stops when the execution aborts', async () => {
    const controller = new AbortController();
    const silent = await startServer(() => controller.abort()); // abort once the request is in flight
    try {
      const policy: EgressPolicy = { allowlist: allowlist([silent.origin]), allowPrivate: false, allowAddresses: onlyLoopbackServer };
      const result = await guardedFetch(get(`${silent.origin}/`), policy, { signal: controller.signal });
      expectErr(result, 'transport', /execution ended/);
    } finally {
      await silent.close();
    }
  });

  it('does not start when the execution has already ended', async () => {
    const controller = new AbortController();
    controller.abort();
    const policy: EgressPolicy = { allowlist: allowlist([server.origin]), allowPrivate: false, allowAddresses: onlyLoopbackServer };
    const result = await guardedFetch(get(`${server.origin}/echo`), policy, { signal: controller.signal });
    expectErr(result, 'transport', /execution ended/);
  });

  it('a resolver that hangs is bounded by the timeout', async () => {
    const hanging: Resolver = () => new Promise(() => undefined);
    const policy: EgressPolicy = { allowlist: allowlist(['http://slow.test']), allowPrivate: false, resolve: hanging, limits: { timeoutMs: 50 } };
    expectErr(await withoutConnecting(() => guardedFetch(get('http://slow.test/'), policy)), 'transport', /timed out after 50 ms/);
  });
});

describe('transport errors', () => {
  it('a refused connection is a transport error', async () => {
    const port = await closedPort();
    const policy: EgressPolicy = { allowlist: allowlist([`http://127.0.0.1:${port}`]), allowPrivate: false, allowAddresses: onlyLoopbackServer };
    expectErr(await guardedFetch(get(`http://127.0.0.1:${port}/`), policy), 'transport', /ECONNREFUSED/);
  });

  it('a name that does not resolve is a transport error', async () => {
    const policy: EgressPolicy = { allowlist: allowlist(['http://nowhere.test']), allowPrivate: false, resolve: mapResolver({}) };
    expectErr(await withoutConnecting(() => guardedFetch(get('http://nowhere.test/'), policy)), 'transport', /resolved to no address/);
  });
});

describe('TLS with a pinned address', () => {
  // A self-signed certificate for `pinned.test` only (test/net/fixtures, valid until 2126).
  const fixtures = new URL('../../../test/net/fixtures/', import.meta.url);
  const cert = readFileSync(new URL('tls-test.crt', fixtures));
  const key = readFileSync(new URL('tls-test.key', fixtures));
  let tlsServer: https.Server;
  let port: number;
  const servernames: (string | false | null)[] = [];

  before(async () => {
    tlsServer = https.createServer({ cert, key }, (req, res) => {
      servernames.push((req.socket as TLSSocket).servername);
      res.end(`host ${req.headers.host}`);
    });
    await new Promise<void>((resolve) => tlsServer.listen(0, '127.0.0.1', resolve));
    port = (tlsServer.address() as AddressInfo).port;
  });
  after(
    () =>
      new Promise<void>((resolve) => {
        tlsServer.closeAllConnections();
        tlsServer.close(() => resolve());
      }),
  );

  it('keeps the name for SNI, Host and certificate checks while dialling the checked address', async () => {
    const resolver = mapResolver({ 'pinned.test': ['127.0.0.1'] });
    const policy: EgressPolicy = { allowlist: allowlist([`https://pinned.test:${port}`]), allowPrivate: false, allowAddresses: onlyLoopbackServer, resolve: resolver, tlsCa: cert };
    const response = expectOk(await guardedFetch(get(`https://pinned.test:${port}/`), policy));
    assert.equal(Buffer.from(response.body).toString(), `host pinned.test:${port}`);
    assert.equal(response.remoteAddress, '127.0.0.1');
    assert.deepEqual(servernames, ['pinned.test']);
    assert.deepEqual(resolver.calls, ['pinned.test']);
  });

  it('still verifies the certificate: the same server by IP does not match the name', async () => {
    const policy: EgressPolicy = { allowlist: allowlist([`https://127.0.0.1:${port}`]), allowPrivate: false, allowAddresses: onlyLoopbackServer, tlsCa: cert };
    expectErr(await guardedFetch(get(`https://127.0.0.1:${port}/`), policy), 'transport', /ERR_TLS_CERT_ALTNAME_INVALID|does not match|altnames/i);
  });

  it('refuses a certificate it does not trust', async () => {
    const policy: EgressPolicy = {
      allowlist: allowlist([`https://pinned.test:${port}`]),
      allowPrivate: false,
      allowAddresses: onlyLoopbackServer,
      resolve: mapResolver({ 'pinned.test': ['127.0.0.1'] }),
    };
    expectErr(await guardedFetch(get(`https://pinned.test:${port}/`), policy), 'transport', /self[- ]signed|unable to verify/i);
  });
});
