/**
 * What an extension's author can see of it: per-install execution metrics (extension and install
 * labels, bounded by RUNNER_METRICS_INSTALL_LABELS, the rest as `other`), a denied capability call
 * as a warn record in the install's own log, and a live tail (`follow=1`) whose backlog honours
 * `limit`.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { admin, createInstall, execute, metricsText, metricValue, startTestService, uploadExample, type Registered, type TestService } from './harness.js';

let svc: TestService;
let kitchen: Registered;
let first: string;
let second: string;
let third: string;

const ctx = (tenant: string, requestId?: string) => ({ context: { tenant_id: tenant, extension_id: 'kitchen-sink', ...(requestId && { request_id: requestId }) } });

before(async () => {
  svc = await startTestService({ env: { RUNNER_METRICS_INSTALL_LABELS: '2' } });
  kitchen = await uploadExample(svc, 'kitchen-sink', { name: 'kitchen-sink', capabilities: ['cap:storage.kv', 'cap:log.emit', 'cap:context.read'] });
  first = await createInstall(svc, { tenant_id: 'tenant-1', extension_id: 'kitchen-sink', install_id: 'inst-first' });
  second = await createInstall(svc, { tenant_id: 'tenant-2', extension_id: 'kitchen-sink', install_id: 'inst-second' });
  // granted nothing: its storage calls are denied
  third = await createInstall(svc, { tenant_id: 'tenant-3', extension_id: 'kitchen-sink', install_id: 'inst-third', grants: [] });
});
after(async () => svc.close());

describe('per-install execution metrics', () => {
  test('the first installs seen get their own extension/install labels; past the bound they count as other', async () => {
    for (const [tenant, times] of [
      ['tenant-1', 2],
      ['tenant-2', 1],
      ['tenant-3', 3],
    ] as const) {
      for (let i = 0; i < times; i++) assert.equal((await execute(svc, '/seven', { envelope: ctx(tenant) })).status, 200);
    }
    const text = await metricsText(svc);
    const name = 'alga_runner_install_executions_total';
    assert.equal(metricValue(text, name, { extension: kitchen.extension_id, install: first, outcome: 'ok' }), 2);
    assert.equal(metricValue(text, name, { extension: kitchen.extension_id, install: second, outcome: 'ok' }), 1);
    assert.equal(metricValue(text, name, { install: third }), 0, 'the third install is past the bound of 2');
    assert.equal(metricValue(text, name, { extension: 'other', install: 'other', outcome: 'ok' }), 3);
    assert.equal(metricValue(text, 'alga_runner_install_execution_duration_seconds_count', { install: first }), 2);
    // the service-wide series are unchanged by the labels
    assert.equal(metricValue(text, 'alga_runner_executions_total', { outcome: 'ok' }), 6);
  });

  test('off by default: no per-install series', async () => {
    const plain = await startTestService();
    try {
      await uploadExample(plain, 'kitchen-sink', { name: 'kitchen-sink' });
      await createInstall(plain, { tenant_id: 'tenant-1', extension_id: 'kitchen-sink' });
      assert.equal((await execute(plain, '/seven', { envelope: ctx('tenant-1') })).status, 200);
      const text = await metricsText(plain);
      assert.equal(metricValue(text, 'alga_runner_executions_total', { outcome: 'ok' }), 1);
      assert.doesNotMatch(text, /alga_runner_install_executions_total/);
    } finally {
      await plain.close();
    }
  });
});

interface LogRecordJson {
  id: number;
  level: string;
  message: string;
  request_id: string;
}

describe("the install's own log", () => {
  test('a denied capability call is a warn record naming the capability', async () => {
    const ran = await execute(svc, '/kv/get', { query: { ns: 'n', key: 'k' }, envelope: ctx('tenant-3', 'req-denied') });
    assert.equal(ran.status, 200);
    const logs = await admin<{ records: LogRecordJson[] }>(svc, 'GET', `/admin/v1/installs/${third}/logs?request_id=req-denied`);
    const denied = logs.json.records.filter((r) => r.level === 'warn' && /denied/.test(r.message));
    assert.equal(denied.length, 1, JSON.stringify(logs.json.records));
    assert.match(denied[0]!.message, /cap:storage\.kv is not granted/);
  });

  test('follow=1 sends the newest `limit` records first, then new ones', async () => {
    for (const msg of ['one', 'two', 'three']) await execute(svc, '/log', { query: { level: 'info', msg }, envelope: ctx('tenant-1', 'req-follow') });
    const controller = new AbortController();
    const res = await fetch(`${svc.url}/admin/v1/installs/${first}/logs?follow=1&request_id=req-follow&limit=2`, {
      headers: { authorization: `Bearer ${svc.adminToken}` },
      signal: controller.signal,
    });
    assert.equal(res.status, 200);
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let buffered = '';
    // the backlog comes before the `: connected` comment
    const next = async (): Promise<{ comment: string } | { record: LogRecordJson }> => {
      for (;;) {
        const end = buffered.indexOf('\n\n');
        if (end >= 0) {
          const block = buffered.slice(0, end);
          buffered = buffered.slice(end + 2);
          if (block.startsWith(':')) return { comment: block.slice(1).trim() };
          const data = block.split('\n').find((l) => l.startsWith('data:'))!;
          return { record: JSON.parse(data.slice(5)) as LogRecordJson };
        }
        const { value, done } = await reader.read();
        if (done) throw new Error('the stream ended');
        buffered += value;
      }
    };
    const backlog: string[] = [];
    for (;;) {
      const item = await next();
      if ('comment' in item) {
        if (item.comment === 'connected') break;
        continue;
      }
      backlog.push(item.record.message);
    }
    assert.deepEqual(backlog, ['two', 'three']);
    await execute(svc, '/log', { query: { level: 'info', msg: 'four' }, envelope: ctx('tenant-1', 'req-follow') });
    let live: LogRecordJson | undefined;
    while (!live) {
      const item = await next();
      if ('record' in item) live = item.record;
    }
    assert.equal(live.message, 'four');
    controller.abort();
    await reader.cancel().catch(() => undefined);
  });
});
