/** `/healthz` (the process answers), `/readyz` (store reachable, engine ready), `/metrics`. */
import type { FastifyInstance } from 'fastify';
import type { Runtime } from '../runtime.js';
import { documented, errorResponses } from '../openapi.js';

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
    required: ['status', 'store', 'engine', 'draining'],
    properties: { status: { enum: ['ready', 'not_ready'] }, store: { type: 'boolean' }, engine: { type: 'boolean' }, draining: { type: 'boolean' } },
  };
  const readyz = documented({
    summary: 'Ready: the store answers a query and the engine has workers (and the service is not draining)',
    tags: ['ops'],
    response: { 200: { description: 'ready', ...readiness }, 503: { description: 'not ready (store away, no workers, or draining)', ...readiness } },
  });
  app.get('/readyz', readyz, async (_request, reply) => {
    const store = await runtime.store.ping().catch(() => false);
    const engine = runtime.engine.workers > 0 && !isDraining();
    const ready = store && engine;
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not_ready', store, engine, draining: isDraining() });
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
