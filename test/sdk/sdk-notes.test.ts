/**
 * The SDK end to end: examples/sdk-notes (router, typed results, storage helpers on the SDK) runs in
 * the real engine through the SDK's own test harness (@alga-runner/sdk/testing, imported here by
 * path: node_modules may link another checkout's SDK).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { examplePath } from '../../src/examples.js';
import { startTestRunner, type TestRunner } from '../../packages/sdk/src/testing.js';

const manifest = join(import.meta.dirname, '..', '..', '..', 'examples', 'sdk-notes', 'manifest.json');

describe('examples/sdk-notes through @alga-runner/sdk/testing', () => {
  let runner: TestRunner;
  before(async () => {
    runner = await startTestRunner({
      component: examplePath('sdk-notes'),
      manifest,
      secrets: { API_KEY: 'k-123' },
      clients: [{ clientId: 'c-1', clientName: 'Acme' }],
      egressAllow: ['https://weather.example.com'],
      http: (request) => (request.url.includes('city=Bergen') ? { status: 200, body: { sky: 'rain' } } : { status: 503, body: 'down' }),
    });
  });
  after(() => runner.close());

  it('grants what the manifest declares', () => {
    assert.ok(runner.grants.includes('cap:storage.kv'));
    assert.ok(!runner.grants.includes('cap:service.read'));
  });

  it('keeps storage across requests: put, get, list in key order, delete', async () => {
    assert.equal((await runner.put('/notes/b', { text: 'second' })).status, 200);
    const put = await runner.put('/notes/a', { text: 'first' });
    assert.equal(put.status, 200);
    assert.deepEqual(put.json(), { id: 'a', text: 'first', likes: 0, revision: '1' });
    assert.ok(
      put.logs.some((l) => l.message.includes('note a saved')),
      'the log line reaches the test',
    );

    assert.deepEqual((await runner.get('/notes/a')).json(), { id: 'a', text: 'first', likes: 0, revision: '1' });
    const listed = (await runner.get('/notes')).json<{ notes: { id: string }[] }>();
    assert.deepEqual(
      listed.notes.map((n) => n.id),
      ['a', 'b'],
    );

    assert.equal((await runner.delete('/notes/b')).status, 204);
    assert.equal((await runner.get('/notes/b')).status, 404);
    assert.deepEqual((await runner.delete('/notes/b')).json(), { error: 'note_not_found' });
  });

  it('counts likes with the compare-and-swap loop and keeps the text', async () => {
    await runner.put('/notes/liked', { text: 'like me' });
    for (let i = 1; i <= 3; i++) assert.deepEqual((await runner.post('/notes/liked/likes')).json(), { likes: i });
    const note = (await runner.get('/notes/liked')).json<{ text: string; likes: number; revision: string }>();
    assert.equal(note.text, 'like me');
    assert.equal(note.likes, 3);
    assert.equal(note.revision, '4');
    assert.equal((await runner.post('/notes/none/likes')).status, 404);
  });

  it('answers 404, 405 with allow, and 400 for a body that is not JSON', async () => {
    const missing = await runner.get('/nothing');
    assert.equal(missing.status, 404);
    assert.equal(missing.json<{ error: string }>().error, 'not_found');
    const wrongMethod = await runner.request('PATCH', '/notes/a');
    assert.equal(wrongMethod.status, 405);
    assert.equal(wrongMethod.headers['allow'], 'DELETE, GET, PUT');
    const badBody = await runner.put('/notes/x', '{not json');
    assert.equal(badBody.status, 400);
    assert.equal(badBody.json<{ error: string }>().error, 'invalid_json');
    assert.equal((await runner.put('/notes/x', {})).status, 400);
  });

  it('turns a thrown error into a logged 500', async () => {
    const res = await runner.get('/boom');
    assert.equal(res.status, 500);
    assert.ok(
      res.logs.some((l) => l.level === 'error' && l.message.includes('kaboom')),
      JSON.stringify(res.logs),
    );
  });

  it("reads the tenant's seeded clients as typed results", async () => {
    assert.equal((await runner.get('/clients/c-1')).json<{ clientName: string }>().clientName, 'Acme');
    assert.equal((await runner.get('/clients/c-2')).status, 404);
  });

  it('sends the seeded secret on outbound HTTP, records it, and maps errors', async () => {
    const before = runner.http.requests.length;
    const ok = await runner.get('/weather?city=Bergen');
    assert.equal(ok.status, 200);
    assert.deepEqual(ok.json(), { city: 'Bergen', upstreamStatus: 200, weather: { sky: 'rain' } });
    const sent = runner.http.requests[before];
    assert.ok(sent);
    assert.equal(sent.method, 'GET');
    assert.equal(sent.url, 'https://weather.example.com/v1/now?city=Bergen');
    assert.equal(sent.headers['authorization'], 'Bearer k-123');

    const down = await runner.get('/weather?city=Oslo');
    assert.equal(down.json<{ upstreamStatus: number }>().upstreamStatus, 503);
  });

  it("runs an Alga-style (request, host) handler over the SDK's host", async () => {
    const res = await runner.get('/alga/clients');
    assert.deepEqual(res.json(), { names: ['Acme'], missing: null });
    assert.ok(res.logs.some((l) => l.message === 'listed 1 clients for demo'));
  });

  it('gives the request context without a capability', async () => {
    assert.deepEqual((await runner.get('/whoami')).json(), { tenant: 'demo', extension: 'local', install: runner.installId });
  });
});

describe('the SDK harness: grants and egress', () => {
  it('a host error comes back as a typed result: client.read not granted → 403 not-allowed', async () => {
    const runner = await startTestRunner({ component: examplePath('sdk-notes'), grants: ['cap:storage.kv'] });
    try {
      const res = await runner.get('/clients/c-1');
      assert.equal(res.status, 403);
      assert.deepEqual(res.json(), { error: 'not-allowed' });
      // no secret seeded: secrets.get is not granted either
      assert.deepEqual((await runner.get('/weather')).json(), { error: 'secret_denied' });
      // the Alga shape throws the same error: its handler catches it
      assert.deepEqual((await runner.get('/alga/clients')).json(), { error: 'clients.list failed: not-allowed' });
      assert.deepEqual([...runner.grants].sort(), ['cap:context.read', 'cap:log.emit', 'cap:storage.kv', 'cap:user.read']);
    } finally {
      await runner.close();
    }
  });

  it('refuses a host outside the egress allowlist without asking the test', async () => {
    let asked = 0;
    const runner = await startTestRunner({
      component: examplePath('sdk-notes'),
      secrets: { API_KEY: 'k' },
      egressAllow: ['https://other.example.com'],
      http: () => {
        asked++;
        return { status: 200 };
      },
    });
    try {
      const res = await runner.get('/weather');
      assert.equal(res.status, 502);
      assert.deepEqual(res.json(), { error: 'upstream_not-allowed' });
      assert.equal(asked, 0);
      assert.equal(runner.http.requests.length, 0);
    } finally {
      await runner.close();
    }
  });

  it('says clearly when the component cannot be read', async () => {
    await assert.rejects(startTestRunner({ component: join(import.meta.dirname, 'no-such.wasm') }), /ENOENT|no-such/);
    await assert.rejects(startTestRunner({ component: new Uint8Array([1, 2, 3]) }), /cannot run/);
  });
});
