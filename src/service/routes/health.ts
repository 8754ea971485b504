/** `/healthz` (the process answers), `/readyz` (database and component store reachable, engine ready), `/metrics`. */
import type { FastifyInstance } from 'fastify';
import type { Runtime } from '../runtime.js';
import { documented, errorResponses } from '../openapi.js';
import { STORE_PROBE_TIMEOUT_MS } from '../component-store.js';

export interface HealthDeps {
  isDraining: () => boolean;
  /** executions waiting: admission queues and the worker pool's queue */
  queueDepth: () => number;
}

export function healthRoutes(app: FastifyInstance, runtime: Runtime, { isDraining, queueDepth }: HealthDeps): void {
  app.get(
    '/healthz',
    documented({ summary: 'The process answers', tags: ['ops'], response: { 200: { type: 'object', required: ['status'], properties: { status: { const: 'ok' } } } } }),
    async () => ({ status: 'ok' }),
  );
  const readiness = {
    type: 'object',
    required: ['status', 'store', 'component_store', 'engine', 'draining'],
    properties: {
      status: { enum: ['ready', 'not_ready'] },
      store: { type: 'boolean', description: 'the database answers a query' },
      component_store: {
        type: 'object',
        required: ['kind', 'reachable'],
        properties: { kind: { enum: ['postgres', 's3', 'http', 'local'] }, reachable: { type: 'boolean' }, detail: { type: 'string', description: 'why it is not reachable' } },
      },
      engine: { type: 'boolean' },
      draining: { type: 'boolean' },
    },
  };
  const readyz = documented({
    summary: 'Ready: the database answers a query, the component store answers (within 2 s), the engine has workers, and the service is not draining',
    tags: ['ops'],
    response: { 200: { description: 'ready', ...readiness }, 503: { description: 'not ready (database or component store away, no workers, or draining)', ...readiness } },
  });
  app.get('/readyz', readyz, async (_request, reply) => {
    const componentStore = runtime.components.store;
    const [store, probe] = await Promise.all([runtime.store.ping().catch(() => false), componentStore.probe(STORE_PROBE_TIMEOUT_MS)]);
    const engine = runtime.engine.workers > 0 && !isDraining();
    const ready = store && probe.ok && engine;
    const component_store = probe.ok ? { kind: componentStore.kind, reachable: true } : { kind: componentStore.kind, reachable: false, detail: probe.detail };
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not_ready', store, component_store, engine, draining: isDraining() });
  });
  const metrics = documented({
    summary: 'Prometheus metrics (text exposition format)',
    tags: ['ops'],
    response: { 200: { description: 'metrics', content: { 'text/plain': { schema: { type: 'string' } } } }, ...errorResponses() },
  });
  app.get('/metrics', metrics, async (_request, reply) => {
    runtime.metrics.queueDepth.set(queueDepth());
    return reply.header('content-type', runtime.metrics.registry.contentType).send(await runtime.metrics.registry.metrics());
  });
}
