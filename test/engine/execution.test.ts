import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createTestRuntime, bodyJson, bodyText, type TestRuntime } from '../support/runtime.js';

let rt: TestRuntime;
let kitchen: string;
let watCounter: string;

before(async () => {
  rt = await createTestRuntime({ workers: 2 });
  kitchen = await rt.install('kitchen-sink');
  watCounter = await rt.install('wat-counter');
});
after(async () => rt?.close());

test('fresh-instance semantics: a guest global counter reads 1 on each of 1000 requests across tenants', async () => {
  const tenants = ['t-1', 't-2', 't-3'];
  const seen = new Map<number, number>();
  const instances = new Set<string>();
  for (let i = 0; i < 1000; i++) {
    const out = await rt.run(kitchen, '/counter', { tenant: tenants[i % 3] });
    const { counter } = bodyJson<{ counter: number }>(out);
    seen.set(counter, (seen.get(counter) ?? 0) + 1);
    if (out.kind === 'ok') instances.add(out.report.stats!.instance);
  }
  assert.deepEqual([...seen.entries()], [[1, 1000]]);
  // the cheap path is what served them: most requests were snapshot restores, not instantiations
  assert.ok(instances.has('restored'), 'expected snapshot restores');
});

test('sequential requests go to the worker that answered last, not to the one idle longest (2 workers)', async () => {
  const hash = await rt.install('wat-ok');
  // both workers get the guest loaded (two at once), so either could serve what follows
  const warm = await Promise.all([rt.run(hash, '/'), rt.run(hash, '/')]);
  assert.equal(new Set(warm.map((out) => out.report.stats?.worker)).size, 2);
  const workers: number[] = [];
  for (let i = 0; i < 20; i++) {
    const out = await rt.run(hash, '/');
    assert.equal(out.kind, 'ok');
    workers.push(out.report.stats!.worker);
  }
  assert.deepEqual(workers, Array<number>(20).fill(workers[0]!));
});

test('fresh-instance semantics hold for a WAT guest with a mutable global (status 200 only when the counter is 1)', async () => {
  for (let i = 0; i < 50; i++) {
    const out = await rt.run(watCounter, '/');
    assert.equal(out.kind, 'ok');
    if (out.kind === 'ok') assert.equal(out.response.status, 200, `request ${i} saw state from an earlier request`);
  }
});

test('requests arriving while a worker restores an instance are served fresh too (200 concurrent)', async () => {
  const outs = await Promise.all(Array.from({ length: 200 }, (_, i) => rt.run(kitchen, '/counter', { tenant: `c-${i % 5}` })));
  const counters = outs.map((o) => bodyJson<{ counter: number }>(o).counter);
  assert.deepEqual([...new Set(counters)], [1]);
});

test('instance "reuse" keeps one warm instance: the counter rises', async () => {
  const counters: number[] = [];
  for (let i = 0; i < 3; i++) counters.push(bodyJson<{ counter: number }>(await rt.run(kitchen, '/counter', { instanceMode: 'reuse', tenant: 'reuse-only' })).counter);
  assert.ok(counters[2]! > counters[0]!, `expected a rising counter, got ${counters.join(',')}`);
});

test('a reuse-mode instance belongs to one install and never serves fresh-mode requests', async () => {
  const counter = async (o: Parameters<TestRuntime['run']>[2]) => bodyJson<{ counter: number }>(await rt.run(kitchen, '/counter', o)).counter;
  const a1 = await counter({ instanceMode: 'reuse', tenant: 'iso-a' });
  const a2 = await counter({ instanceMode: 'reuse', tenant: 'iso-a' });
  const b1 = await counter({ instanceMode: 'reuse', tenant: 'iso-b' });
  assert.equal(a2, a1 + 1, 'install a keeps its warm instance');
  assert.equal(b1, 1, "install b does not see install a's state");
  for (let i = 0; i < 5; i++) assert.equal(await counter({ tenant: 'iso-a' }), 1, 'fresh mode never gets the warm instance');
  assert.equal(await counter({ instanceMode: 'reuse', tenant: 'iso-a' }), a2 + 1);
});

test("forgetInstall drops an install's reuse-mode instance: its next request starts from a new one", async () => {
  const counter = async () => bodyJson<{ counter: number }>(await rt.run(kitchen, '/counter', { instanceMode: 'reuse', tenant: 'forget-me' })).counter;
  const kept = await counter();
  assert.equal(await counter(), kept + 1, 'the warm instance is kept between requests');
  // the runner forgets it when the install is removed or stops reusing an instance (the change feed)
  rt.engine.forgetInstall('install-forget-me', false);
  assert.equal(await counter(), 1, 'a new instance after forgetInstall');
  assert.equal(await counter(), 2);
});

test('the guest sees url = path + query, method, headers and body', async () => {
  const out = await rt.run(kitchen, '/echo?a=1&b=two', { method: 'POST', body: 'héllo', headers: [['x-test', 'yes']] });
  const echo = bodyJson<{ method: string; url: string; headers: [string, string][] | Record<string, string>; body: string }>(out);
  assert.equal(echo.method, 'POST');
  assert.equal(echo.url, '/echo?a=1&b=two');
  assert.equal(echo.body, 'héllo');
  assert.match(JSON.stringify(echo.headers), /x-test/);
});

test('context reaches the guest through the host bridge', async () => {
  const out = await rt.run(kitchen, '/context', { tenant: 'tenant-ctx', requestId: 'req-ctx-1' });
  const ctx = bodyJson<{ ok: Record<string, string> }>(out).ok;
  assert.equal(ctx.tenantId, 'tenant-ctx');
  assert.equal(ctx.extensionId, 'ext-1');
  assert.equal(ctx.requestId, 'req-ctx-1');
  assert.equal(ctx.installId, 'install-tenant-ctx');
  assert.equal(ctx.versionId, 'ver-1');
});

test('WASI: clocks and random work and differ per request; stdout/stderr become log records with context', async () => {
  const a = await rt.run(kitchen, '/env', { requestId: 'env-a' });
  const b = await rt.run(kitchen, '/env', { requestId: 'env-b' });
  const ea = bodyJson<{ now: number; random: number; bytes: string }>(a);
  const eb = bodyJson<{ now: number; random: number; bytes: string }>(b);
  assert.ok(Math.abs(ea.now - Date.now()) < 60_000, 'wall clock is real time');
  assert.ok(eb.now >= ea.now);
  assert.notEqual(ea.random, eb.random);
  assert.notEqual(ea.bytes, eb.bytes);
  assert.match(ea.bytes, /^[0-9a-f]{32}$/);
  const stdout = a.logs.filter((r) => r.stream === 'stdout' && r.message.trim());
  const stderr = a.logs.filter((r) => r.stream === 'stderr' && r.message.trim());
  assert.ok(stdout.length >= 1 && stderr.length >= 1, JSON.stringify(a.logs));
  for (const r of [...stdout, ...stderr]) {
    assert.equal(r.request_id, 'env-a');
    assert.equal(r.tenant, 'tenant-a');
    assert.equal(r.extension, 'ext-1');
    assert.equal(r.install, 'install-tenant-a');
  }
});

test('WASI: no environment, arguments, stdin bytes or preopened directories reach a guest, on a new or a restored instance', async () => {
  // the probe answers 500 + a bit per finding (examples/wat/wasi-probe.wat)
  const probe = await rt.install('wat-wasi-probe');
  const instances: string[] = [];
  for (let i = 0; i < 3; i++) {
    const out = await rt.run(probe, '/');
    assert.equal(out.kind, 'ok', out.kind === 'fault' ? out.message : '');
    if (out.kind !== 'ok') return;
    assert.equal(out.response.status, 200, `findings: ${out.response.status - 500}`);
    instances.push(out.report.stats!.instance);
  }
  assert.ok(instances.includes('new') && instances.includes('restored'), instances.join(','));
});

test('guest logging goes through cap:log.emit with context; without the grant it is dropped and counted', async () => {
  const granted = await rt.run(kitchen, '/log?level=warn&msg=hello-log');
  assert.ok(granted.logs.some((r) => r.stream === 'log' && r.level === 'warn' && r.message === 'hello-log'));
  const denied = await rt.run(kitchen, '/log?level=warn&msg=hello-log', { grants: ['cap:context.read'] });
  assert.ok(!denied.logs.some((r) => r.message === 'hello-log'));
  assert.equal(denied.kind, 'ok');
  assert.equal(denied.report.deniedCalls, 1);
  assert.ok(
    denied.logs.some((r) => /denied .*logging/.test(r.message)),
    'a denied call is logged',
  );
});

test("denied capabilities answer with the interface's own error", async () => {
  const out = await rt.run(kitchen, '/kv/get?ns=a&key=b');
  assert.deepEqual(bodyJson(out), { err: 'denied' });
  const secrets = await rt.run(kitchen, '/secrets/list');
  assert.deepEqual(bodyJson(secrets), { ok: [] });
  assert.match(bodyText(await rt.run(kitchen, '/clients')), /not-allowed/);
});

test("a denied call is noted in the install's log even past the guest's record cap", async () => {
  // /all calls every capability; only logging is granted, and one record is all the guest may write
  const out = await rt.run(kitchen, '/all', { grants: ['cap:log.emit', 'cap:context.read'], limits: { maxLogRecords: 1 } });
  assert.equal(out.kind, 'ok');
  const notes = out.logs.filter((r) => r.level === 'warn' && r.message.startsWith('denied '));
  for (const cap of ['cap:secrets.get', 'cap:storage.kv', 'cap:client.read'])
    assert.ok(
      notes.some((r) => r.message.endsWith(`${cap} is not granted`)),
      `${cap} noted: ${JSON.stringify(notes)}`,
    );
  assert.equal(new Set(notes.map((r) => r.message.split(' ').at(-4))).size, notes.length, 'one note per capability');
  assert.ok(!out.logs.some((r) => r.message === 'kitchen-sink: error'), "the guest's own records past the cap are dropped");
});
