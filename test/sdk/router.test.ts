/**
 * The SDK's router, response helpers, storage helpers and Alga-shaped bindings, outside a
 * component: over an in-memory host (the same `Host` shape the dialect modules bind).
 */
import { describe, it, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import {
  createApp,
  json,
  text,
  status,
  RouteError,
  storage,
  http,
  clients,
  scheduler,
  fromAlgaHandler,
  jsonResponse,
  emptyResponse,
  normalizeUserData,
  type Host,
} from '../../packages/sdk/src/index.js';
import { replaceHostForTesting } from '../../packages/sdk/src/host.js';
import type { ExecuteRequest, ExecuteResponse, StorageEntry } from '../../packages/sdk/src/generated/seed.js';

const decoder = new TextDecoder();
const encoder = new TextEncoder();

function request(method: string, url: string, body?: string, headers: [string, string][] = []): ExecuteRequest {
  return {
    context: { tenantId: 't1', extensionId: 'ext', installId: 'i1', requestId: 'r1' },
    http: { method, url, headers: headers.map(([name, value]) => ({ name, value })), body: body === undefined ? undefined : encoder.encode(body) },
  };
}

function bodyOf(response: ExecuteResponse): unknown {
  return response.body ? JSON.parse(decoder.decode(response.body)) : undefined;
}

function header(response: ExecuteResponse, name: string): string | undefined {
  return response.headers.find((h) => h.name === name)?.value;
}

/** An in-memory host: storage with revisions, compare-and-swap and pages of two; recorded logs and fetches. */
function memoryHost(options: { conflictsBeforeWrite?: number } = {}) {
  const kv = new Map<string, StorageEntry>();
  const logs: string[] = [];
  const fetched: string[] = [];
  let conflicts = options.conflictsBeforeWrite ?? 0;
  const missing = { ok: false as const, error: 'missing' as const };
  const host: Host = {
    dialect: 'memory',
    context: { getContext: () => ({ tenantId: 't1', extensionId: 'ext' }) },
    secrets: { get: () => ({ ok: false, error: 'missing' }), list: () => [] },
    http: {
      fetch: (req) => {
        fetched.push(`${req.method} ${req.url} ${req.headers.map((h) => `${h.name}=${h.value}`).join(',')} ${req.body ? decoder.decode(req.body) : ''}`);
        return {
          ok: true,
          value: {
            status: 200,
            headers: [
              { name: 'X-A', value: '1' },
              { name: 'x-a', value: '2' },
            ],
            body: encoder.encode('{"hello":"world"}'),
          },
        };
      },
    },
    storage: {
      get: (namespace, key) => {
        const found = kv.get(`${namespace}/${key}`);
        return found ? { ok: true, value: found } : missing;
      },
      put: (entry) => {
        const id = `${entry.namespace}/${entry.key}`;
        const current = kv.get(id)?.revision ?? 0n;
        if (conflicts > 0) {
          conflicts--;
          return { ok: false, error: 'conflict' };
        }
        if (entry.revision !== undefined && entry.revision !== current) return { ok: false, error: 'conflict' };
        const stored = { ...entry, revision: current + 1n };
        kv.set(id, stored);
        return { ok: true, value: stored };
      },
      delete: (namespace, key) => (kv.delete(`${namespace}/${key}`) ? { ok: true, value: undefined } : missing),
      list: (namespace, cursor) => {
        const keys = [...kv.values()].filter((e) => e.namespace === namespace && (cursor === undefined || e.key > cursor)).sort((a, b) => (a.key < b.key ? -1 : 1));
        return { ok: true, value: keys.slice(0, 2) };
      },
    },
    logging: { info: (m) => logs.push(`info ${m}`), warn: (m) => logs.push(`warn ${m}`), error: (m) => logs.push(`error ${m}`) },
    uiProxy: { call: () => ({ ok: false, error: 'denied' }) },
    user: { getUser: () => ({ ok: true, value: { tenantId: 't1', clientName: 'C', userId: 'u', userEmail: 'e', userName: 'n', userType: 'msp', additionalFields: [['a', 'b']] } }) },
    clients: { listClients: () => ({ ok: false, error: 'not-allowed' }), getClient: () => ({ ok: false, error: 'not-allowed' }) },
    services: { listServices: () => ({ ok: false, error: 'not-allowed' }), getService: () => ({ ok: true, value: undefined }) },
  };
  return { host, kv, logs, fetched };
}

describe('router', () => {
  const app = createApp()
    .get('/notes/:id', (req, ctx) => json({ id: req.params.id, tenant: ctx.tenantId, q: req.query.get('q'), h: req.headers.get('x-h') }))
    .post('/notes', (req) => json(req.json(), { status: 201, headers: { Location: '/notes/1' } }))
    .put('/notes/:id', (req) => text(`put ${req.params.id}: ${req.text()}`))
    .delete('/notes/:id', () => status(204))
    .get('/files/*', (req) => json({ rest: req.params['*'] }))
    .get('/teapot', () => {
      throw new RouteError(418, 'teapot', 'short and stout');
    })
    .get('/async', async () => json({ later: true }))
    .get('/async-fail', async () => {
      throw new Error('late failure');
    });
  let mem: ReturnType<typeof memoryHost>;
  beforeEach(() => {
    mem = memoryHost();
    replaceHostForTesting(mem.host);
  });
  afterEach(() => replaceHostForTesting(undefined));

  it('matches params (decoded), query, headers and context', async () => {
    const res = await app.handler(request('GET', '/notes/a%20b?q=1', undefined, [['X-H', 'v']]));
    assert.equal(res.status, 200);
    assert.equal(header(res, 'content-type'), 'application/json');
    assert.deepEqual(bodyOf(res), { id: 'a b', tenant: 't1', q: '1', h: 'v' });
  });

  it('reads a JSON body and sets status and headers', async () => {
    const res = await app.handler(request('POST', '/notes', '{"a":1}'));
    assert.equal(res.status, 201);
    assert.equal(header(res, 'location'), '/notes/1');
    assert.deepEqual(bodyOf(res), { a: 1 });
  });

  it('text and status helpers', async () => {
    const put = await app.handler(request('PUT', '/notes/7', 'hello'));
    assert.equal(decoder.decode(put.body!), 'put 7: hello');
    assert.equal(header(put, 'content-type'), 'text/plain; charset=utf-8');
    const del = await app.handler(request('DELETE', '/notes/7'));
    assert.equal(del.status, 204);
    assert.equal(del.body, undefined);
  });

  it('a trailing * matches the rest of the path', async () => {
    assert.deepEqual(bodyOf(await app.handler(request('GET', '/files/a/b/c.txt'))), { rest: 'a/b/c.txt' });
  });

  it('404 for an unknown path, 405 with allow for a known one, HEAD served by GET', async () => {
    const notFound = await app.handler(request('GET', '/nope'));
    assert.equal(notFound.status, 404);
    assert.equal((bodyOf(notFound) as { error: string }).error, 'not_found');
    const notAllowed = await app.handler(request('PATCH', '/notes/1'));
    assert.equal(notAllowed.status, 405);
    assert.equal(header(notAllowed, 'allow'), 'DELETE, GET, PUT');
    assert.equal((await app.handler(request('HEAD', '/notes/1'))).status, 200);
    assert.equal((await app.handler(request('GET', '/notes/1/extra'))).status, 404);
  });

  it('400 for a body that is not JSON and for bad percent-encoding', async () => {
    const bad = await app.handler(request('POST', '/notes', '{oops'));
    assert.equal(bad.status, 400);
    assert.equal((bodyOf(bad) as { error: string }).error, 'invalid_json');
    assert.equal((await app.handler(request('GET', '/notes/%E0%A4%A'))).status, 400);
  });

  it('RouteError answers its status; other errors (sync or async) a logged 500', async () => {
    assert.deepEqual(bodyOf(await app.handler(request('GET', '/teapot'))), { error: 'teapot', message: 'short and stout' });
    assert.equal((await app.handler(request('GET', '/async'))).status, 200);
    const failed = await app.handler(request('GET', '/async-fail'));
    assert.equal(failed.status, 500);
    assert.ok(mem.logs.some((l) => l.startsWith('error ') && l.includes('late failure')));
  });

  it('refuses routes it cannot match', () => {
    assert.throws(() => createApp().get('notes' as '/notes', () => status(200)), /must start with/);
    assert.throws(() => createApp().get('/a/*/b', () => status(200)), /last segment/);
  });

  it('json writes bigints as strings', () => {
    assert.deepEqual(bodyOf(json({ revision: 3n })), { revision: '3' });
  });
});

describe('storage helpers', () => {
  afterEach(() => replaceHostForTesting(undefined));

  it('JSON values round-trip with their revision; missing and invalid JSON are typed errors', () => {
    const mem = memoryHost();
    replaceHostForTesting(mem.host);
    assert.deepEqual(storage.putJson('n', 'k', { a: 1 }), { ok: true, value: { key: 'k', value: { a: 1 }, revision: 1n } });
    assert.deepEqual(storage.getJson('n', 'k'), { ok: true, value: { key: 'k', value: { a: 1 }, revision: 1n } });
    assert.deepEqual(storage.getJson('n', 'none'), { ok: false, error: 'missing' });
    storage.put('n', 'raw', 'not json');
    assert.deepEqual(storage.getJson('n', 'raw'), { ok: false, error: 'invalid-json' });
    assert.deepEqual(storage.putJson('n', 'k', { a: 2 }, { revision: 7n }), { ok: false, error: 'conflict' });
  });

  it('update retries after conflicts and gives up after its attempts', () => {
    const mem = memoryHost({ conflictsBeforeWrite: 2 });
    replaceHostForTesting(mem.host);
    const seen: (number | undefined)[] = [];
    const done = storage.update<number>('n', 'count', (n) => {
      seen.push(n);
      return (n ?? 0) + 1;
    });
    assert.deepEqual(done, { ok: true, value: { key: 'count', value: 1, revision: 1n } });
    assert.deepEqual(seen, [undefined, undefined, undefined], 'read again before each retry');

    replaceHostForTesting(memoryHost({ conflictsBeforeWrite: 10 }).host);
    assert.deepEqual(
      storage.update<number>('n', 'count', () => 1, { attempts: 3 }),
      { ok: false, error: 'conflict' },
    );
  });

  it('entries pages through a namespace in key order; allJson collects it', () => {
    const mem = memoryHost();
    replaceHostForTesting(mem.host);
    for (const k of ['e', 'a', 'c', 'b', 'd']) storage.putJson('n', k, k.toUpperCase());
    storage.putJson('other', 'z', 0);
    const keys = [...storage.entries('n')].map((r) => (r.ok ? r.value.key : `error ${r.error}`));
    assert.deepEqual(keys, ['a', 'b', 'c', 'd', 'e']);
    assert.deepEqual(
      [...storage.entries('n', { startAfter: 'c' })].map((r) => r.ok && r.value.key),
      ['d', 'e'],
    );
    const all = storage.allJson<string>('n');
    assert.ok(all.ok);
    assert.deepEqual(
      all.value.map((e) => e.value),
      ['A', 'B', 'C', 'D', 'E'],
    );
  });

  it('an error while paging is yielded once and ends the walk', () => {
    const mem = memoryHost();
    replaceHostForTesting({ ...mem.host, storage: { ...mem.host.storage, list: () => ({ ok: false, error: 'denied' }) } });
    assert.deepEqual([...storage.entries('n')], [{ ok: false, error: 'denied' }]);
  });
});

describe('host helpers', () => {
  afterEach(() => replaceHostForTesting(undefined));

  it('http.fetch sends JSON with its content type and reads headers and body', () => {
    const mem = memoryHost();
    replaceHostForTesting(mem.host);
    const res = http.fetch('https://x.example/a', { method: 'POST', body: { q: 1 } });
    assert.ok(res.ok);
    assert.equal(res.value.status, 200);
    assert.equal(res.value.headers['x-a'], '1, 2');
    assert.deepEqual(res.value.json(), { hello: 'world' });
    assert.deepEqual(mem.fetched, ['POST https://x.example/a content-type=application/json {"q":1}']);
  });

  it('typed errors from the host; a world without scheduler says so', () => {
    replaceHostForTesting(memoryHost().host);
    assert.deepEqual(clients.list(), { ok: false, error: 'not-allowed' });
    assert.throws(() => scheduler.list(), /scheduler is in Alga's world only; this component is built for 'memory'/);
  });

  it('without bound host bindings a call says how to bind them', () => {
    replaceHostForTesting(undefined);
    assert.throws(() => storage.get('n', 'k'), /no host bindings/);
  });
});

describe("Alga's extension-runtime shape", () => {
  afterEach(() => replaceHostForTesting(undefined));

  it('an Alga-style (request, host) handler runs over the SDK host, async and throwing', async () => {
    const mem = memoryHost();
    replaceHostForTesting(mem.host);
    const handler = fromAlgaHandler(async (req, host) => {
      await host.storage.put({ namespace: 'n', key: 'k', value: encoder.encode('v') });
      const value = await host.storage.get('n', 'k');
      const none = await host.storage.get('n', 'none');
      const user = await host.user.getUser();
      let denied = '';
      try {
        await host.clients.list();
      } catch (e) {
        denied = (e as Error).message;
      }
      return jsonResponse({ url: req.http.url, value: decoder.decode(value!), none, extra: user.additionalFields, denied });
    });
    const res = await handler(request('GET', '/x'));
    assert.deepEqual(bodyOf(res), { url: '/x', value: 'v', none: null, extra: { a: 'b' }, denied: 'clients.list failed: not-allowed' });
  });

  it('jsonResponse, emptyResponse and normalizeUserData behave as Alga documents them', () => {
    assert.equal(jsonResponse({ a: 1 }, { status: 201 }).status, 201);
    assert.deepEqual(emptyResponse(), { status: 204, headers: [], body: null });
    const base = { tenantId: 't', clientName: 'c', userId: 'u', userEmail: 'e', userName: 'n', userType: 'client' };
    assert.deepEqual(normalizeUserData({ ...base, additionalFields: [['k', 'v']] }).additionalFields, { k: 'v' });
    assert.deepEqual(normalizeUserData({ ...base, additionalFields: { k: 'v' } }).additionalFields, { k: 'v' });
    assert.equal(normalizeUserData(base).additionalFields, undefined);
  });
});
