/**
 * Graceful shutdown: close() stops taking requests, lets the running execution
 * finish and answer, ends live log tails, and closes the store. The running guest is held inside a
 * host call (a fetch of a loopback gate) until the test lets it go.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { admin, createInstall, envelopeFor, execute, guestJson, startTestService, uploadExample, type ErrorBody } from './harness.js';
import { gateFetch, openGate } from './gate.js';

test('close(): in-flight execution answers, new requests are refused, log tails end, the store closes', { timeout: 30_000 }, async () => {
  const gate = await openGate();
  const svc = await startTestService({ workers: 1 });
  try {
    await uploadExample(svc, 'kitchen-sink', { name: 'kitchen-sink', capabilities: ['cap:http.fetch'] });
    const installId = await createInstall(svc, { tenant_id: 'tenant-a', extension_id: 'kitchen-sink', egress: { allow: [gate.origin] } });

    // a live log tail, open before the shutdown
    const tail = await fetch(`${svc.url}/admin/v1/installs/${installId}/logs?follow=1`, { headers: { authorization: `Bearer ${svc.adminToken}` } });
    assert.equal(tail.status, 200);
    const tailText = tail.text();

    // an execution that is running when the shutdown starts
    const inFlight = execute(svc, '/fetch', { body: gateFetch(gate, 'in-flight') });
    const heldGuest = await gate.next();

    // a request whose headers arrived before the shutdown but whose body arrives after it
    const routed = new Promise<void>((resolve) => svc.running.app.fastify.server.once('request', () => resolve()));
    const late = new Promise<{ status: number; body: string }>((resolve, reject) => {
      const body = JSON.stringify(envelopeFor('/noop'));
      const req = request(`${svc.url}/v1/execute`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'x-runner-service-token': svc.serviceToken, 'x-alga-tenant': 'tenant-a' },
      });
      req.on('response', (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      });
      req.on('error', reject);
      req.write(body.slice(0, 10));
      void routed.then(() => setImmediate(() => req.end(body.slice(10))));
    });
    await routed;

    const closing = svc.running.close();
    const lateAnswer = await late;
    assert.equal(lateAnswer.status, 503);
    assert.equal((JSON.parse(lateAnswer.body) as ErrorBody).error.code, 'shutting_down');

    // a request on a new connection: refused at the socket, or with 503 shutting_down if the
    // listener has not closed yet — either way it does not run
    const fresh = await execute<ErrorBody>(svc, '/noop').then(
      (r) => r.json.error.code,
      (e: unknown) => String((e as { cause?: { code?: string } }).cause?.code ?? e),
    );
    assert.ok(['shutting_down', 'ECONNREFUSED', 'ECONNRESET', 'UND_ERR_SOCKET'].includes(fresh), `a new request after close() got ${fresh}`);

    await tailText; // the live tail ended instead of holding the server open

    heldGuest.release('finished during shutdown');
    const answer = await inFlight;
    assert.equal(answer.status, 200);
    assert.equal(answer.json.status, 200);
    assert.equal(guestJson<{ ok: { body: string } }>(answer.json).ok.body, 'finished during shutdown');

    await closing;
    assert.equal(await svc.running.runtime.store.ping(), false, 'the store is closed');
    assert.equal(gate.arrived, 1, 'nothing else ran');
    await assert.rejects(admin(svc, 'GET', '/admin/v1/installs'), 'the port no longer answers');
  } finally {
    await svc.close();
    await gate.close();
  }
});
