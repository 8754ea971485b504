/** `/healthz` (the process answers), `/readyz` (store reachable, engine ready), `/metrics`. */
import type { FastifyInstance } from 'fastify';
import type { Runtime } from '../runtime.js';

export interface HealthDeps {
  isDraining: () => boolean;
  /** executions waiting: admission queues and the worker pool's queue */
  queueDepth: () => number;
}

export function healthRoutes(app: FastifyInstance, runtime: Runtime, { isDraining, queueDepth }: HealthDeps): void {
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    const store = await runtime.store.ping().catch(() => false);
    const engine = runtime.engine.workers > 0 && !isDraining();
    const ready = store && engine;
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not_ready', store, engine, draining: isDraining() });
  });
  app.get('/metrics', async (_request, reply) => {
    runtime.metrics.queueDepth.set(queueDepth());
    return reply.header('content-type', runtime.metrics.registry.contentType).send(await runtime.metrics.registry.metrics());
  });
}
