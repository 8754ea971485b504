/**
 * Graceful shutdown (App.shutdown): /readyz says draining at once while requests are still served
 * and connections accepted; after the drain delay the listener closes, answers carry
 * `connection: close`, live log tails end, the running execution finishes and answers, and the
 * store closes. The running guest is held inside a host call (a fetch of a loopback gate) until
 * the test lets it go.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Agent, request } from 'node:http';
import { admin, createInstall, envelopeFor, guestJson, startTestService, uploadExample, type Answer, type TestService } from './harness.js';
import { gateFetch, openGate } from './gate.js';

interface RawAnswer {
  status: number;
  connection: string | undefined;
  json: Answer;
}

/**
 * POST /v1/execute over node:http, so the answer's `connection` header can be read; `agent: false`
 * opens a new connection. `beforeBody` runs once the request's headers have been routed.
 */
function rawExecute(svc: TestService, path: string, options: { body?: unknown; agent?: Agent | false; beforeBody?: Promise<void> } = {}): Promise<RawAnswer> {
  const body = JSON.stringify(envelopeFor(path, { body: options.body }));
  return new Promise((resolve, reject) => {
    const req = request(`${svc.url}/v1/execute`, {
      method: 'POST',
      agent: options.agent,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'x-runner-service-token': svc.serviceToken, 'x-alga-tenant': 'tenant-a' },
    });
    req.on('response', (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection, json: JSON.parse(text) as Answer }));
    });
    req.on('error', reject);
    if (!options.beforeBody) return void req.end(body);
    req.write(body.slice(0, 10));
    void options.beforeBody.then(() => setImmediate(() => req.end(body.slice(10))));
  });
}

/** A new connection's outcome: its answer's status, or the socket error's code. */
function freshConnection(svc: TestService): Promise<string> {
  return rawExecute(svc, '/noop', { agent: false }).then(
    (r) => String(r.status),
    (e: unknown) => String((e as { code?: string }).code ?? e),
  );
}

async function until(condition: () => boolean | Promise<boolean>, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('close(): a request already arriving is served, new connections are refused, log tails end, the in-flight execution answers, the store closes', { timeout: 30_000 }, async () => {
  const gate = await openGate();
  const svc = await startTestService({ workers: 2 });
  try {
    await uploadExample(svc, 'kitchen-sink', { name: 'kitchen-sink', capabilities: ['cap:http.fetch'] });
    const installId = await createInstall(svc, { tenant_id: 'tenant-a', extension_id: 'kitchen-sink', egress: { allow: [gate.origin] } });

    // a live log tail, open before the shutdown
    const tail = await fetch(`${svc.url}/admin/v1/installs/${installId}/logs?follow=1`, { headers: { authorization: `Bearer ${svc.adminToken}` } });
    assert.equal(tail.status, 200);
    const tailText = tail.text();

    // an execution that is running when the shutdown starts
    const inFlight = rawExecute(svc, '/fetch', { body: gateFetch(gate, 'in-flight'), agent: false });
    const heldGuest = await gate.next();

    // a request whose headers arrived before the shutdown but whose body arrives after it
    const routed = new Promise<void>((resolve) => svc.running.app.fastify.server.once('request', () => resolve()));
    const late = rawExecute(svc, '/noop', { agent: false, beforeBody: routed });
    await routed;

    const closing = svc.running.close();
    const lateAnswer = await late;
    assert.equal(lateAnswer.status, 200, JSON.stringify(lateAnswer.json));
    assert.equal(lateAnswer.json.status, 200, JSON.stringify(lateAnswer.json));
    assert.equal(lateAnswer.connection, 'close', 'its connection ends with the answer');

    // the listener closed at once (no drain delay): a new connection is refused at the socket
    assert.equal(await freshConnection(svc), 'ECONNREFUSED');

    await tailText; // the live tail ended instead of holding the server open

    heldGuest.release('finished during shutdown');
    const answer = await inFlight;
    assert.equal(answer.status, 200);
    assert.equal(answer.json.status, 200, JSON.stringify(answer.json));
    assert.equal(answer.connection, 'close');
    assert.equal(guestJson<{ ok: { body: string } }>(answer.json).ok.body, 'finished during shutdown');

    await closing;
    assert.equal(await svc.running.runtime.store.ping(), false, 'the store is closed');
    assert.equal(gate.arrived, 1, 'nothing else called out');
    await assert.rejects(admin(svc, 'GET', '/admin/v1/installs'), 'the port no longer answers');
  } finally {
    await svc.close();
    await gate.close();
  }
});

test('close() with a drain delay: /readyz says draining while requests are served and connections accepted; skipping the delay closes the listener', { timeout: 30_000 }, async () => {
  const gate = await openGate();
  const svc = await startTestService({ workers: 2 });
  try {
    await uploadExample(svc, 'kitchen-sink', { name: 'kitchen-sink', capabilities: ['cap:http.fetch'] });
    await createInstall(svc, { tenant_id: 'tenant-a', extension_id: 'kitchen-sink', egress: { allow: [gate.origin] } });
    const inFlight = rawExecute(svc, '/fetch', { body: gateFetch(gate, 'held'), agent: false });
    const heldGuest = await gate.next();

    const closing = svc.running.close({ drainDelayMs: 600_000 });
    const keptAlive = new Agent({ keepAlive: true, maxSockets: 1 });
    const ready = await fetch(`${svc.url}/readyz`);
    assert.equal(ready.status, 503);
    assert.deepEqual(await ready.json(), { status: 'not_ready', store: true, component_store: { kind: 'local', reachable: true }, engine: false, draining: true });
    assert.equal(await freshConnection(svc), '200', 'a new connection during the delay is served');
    for (let i = 0; i < 3; i++) {
      const served = await rawExecute(svc, '/noop', { agent: keptAlive });
      assert.equal(served.status, 200);
      assert.equal(served.json.status, 200);
      assert.equal(served.connection, 'keep-alive', 'and kept alive: the listener is still open');
    }

    svc.running.skipDrainDelay();
    await until(() => !svc.running.app.fastify.server.listening, 'the listener to close');
    assert.equal(await freshConnection(svc), 'ECONNREFUSED');

    heldGuest.release('after the delay');
    const answer = await inFlight;
    assert.equal(answer.status, 200);
    assert.equal(guestJson<{ ok: { body: string } }>(answer.json).ok.body, 'after the delay');
    assert.equal(answer.connection, 'close');
    await closing;
    keptAlive.destroy();
  } finally {
    svc.running.skipDrainDelay();
    await svc.close();
    await gate.close();
  }
});
