/**
 * A service configured with RUNNER_REDIS_URL whose Redis cannot be reached (a loopback proxy in
 * front of the real Redis, cut): it starts, serves under per-replica limits (429 past them, not a
 * hang or a 5xx), stays ready, and says so — a warning in the log, `scope="replica"` and the
 * fallback counter in /metrics. Redis back (the proxy restored): shared limits again, logged.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createInstall, execute, metricsText, metricValue, startTestService, uploadExample, type ErrorBody } from './harness.js';
import { dropPrefix, redisClient, redisPrefix, redisSkipReason } from '../support/redis.js';
import { startTcpProxy } from '../support/tcp-proxy.js';
import { gateFetch, openGate } from './gate.js';

const skip = await redisSkipReason();

test('Redis unreachable: the service serves under per-replica limits and says so; Redis back: shared limits again', { skip, timeout: 120_000 }, async () => {
  const proxy = await startTcpProxy({ host: '127.0.0.1', port: 6379 });
  await proxy.cut();
  const prefix = redisPrefix('unreachable');
  const gate = await openGate();
  const svc = await startTestService({
    env: { RUNNER_REDIS_URL: `redis://127.0.0.1:${proxy.port}`, RUNNER_REDIS_PREFIX: prefix, RUNNER_TENANT_CONCURRENCY: '1', RUNNER_TENANT_QUEUE: '0', LOG_LEVEL: 'info' },
  });
  const redis = redisClient();
  try {
    await svc.logLine((l) => l.msg === 'the limiter cannot reach Redis (RUNNER_REDIS_URL) at start: per-tenant limits hold per replica until it answers');
    await uploadExample(svc, 'kitchen-sink', { name: 'kitchen-sink', capabilities: ['cap:http.fetch'] });
    await createInstall(svc, { tenant_id: 'tenant-a', extension_id: 'kitchen-sink', egress: { allow: [gate.origin] } });

    const ready = await fetch(`${svc.url}/readyz`);
    assert.equal(ready.status, 200, 'readiness does not depend on Redis');
    // one running (held at the gate), the next refused at once by the replica's own limit
    const running = execute(svc, '/fetch', { tenant: 'tenant-a', body: gateFetch(gate, 'held') });
    const held = await gate.next();
    const refused = await execute<ErrorBody>(svc, '/noop', { tenant: 'tenant-a' });
    assert.equal(refused.status, 429);
    assert.equal(refused.json.error.code, 'too_many_requests');
    held.release();
    assert.equal((await running).json.status, 200);
    let metrics = await metricsText(svc);
    assert.equal(metricValue(metrics, 'alga_runner_admission_scope', { limiter: 'redis', scope: 'replica' }), 1);
    assert.equal(metricValue(metrics, 'alga_runner_admission_scope', { limiter: 'redis', scope: 'global' }), 0);
    assert.equal(metricValue(metrics, 'alga_runner_admission_fallbacks_total'), 2);

    await proxy.restore();
    await svc.logLine((l) => l.msg === 'the limiter reaches Redis: per-tenant limits hold across replicas');
    const deadline = Date.now() + 10_000;
    while (metricValue(await metricsText(svc), 'alga_runner_admission_scope', { scope: 'global' }) !== 1) {
      assert.ok(Date.now() < deadline, 'scope global again within 10 s');
      await new Promise((r) => setTimeout(r, 100));
    }
    const again = execute(svc, '/fetch', { tenant: 'tenant-a', body: gateFetch(gate, 'again') });
    const heldAgain = await gate.next();
    assert.equal(await redis.zcard(`${prefix}tenant:tenant-a:slots`), 1, 'the execution holds a slot in Redis');
    heldAgain.release();
    assert.equal((await again).json.status, 200);
    metrics = await metricsText(svc);
    assert.equal(metricValue(metrics, 'alga_runner_admission_fallbacks_total'), 2, 'no fallback once Redis answers');
  } finally {
    await svc.close();
    await gate.close();
    await proxy.close();
    await dropPrefix(redis, prefix);
    await redis.quit();
  }
});
