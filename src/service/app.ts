/**
 * The HTTP service: Fastify with the execute API, the admin API, the dev gateway, extension UI
 * files, health/metrics and the OpenAPI document, over one Runtime. Errors are JSON `{error: {code, message}}` from the catalog.
 */
import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyReply } from 'fastify';
import { randomUUID } from 'node:crypto';
import pino, { type DestinationStream, type Logger } from 'pino';
import { ERROR_CATALOG, ServiceError } from './errors.js';
import { Executor } from './executor.js';
import { ScheduleRunner } from './schedule-runner.js';
import type { Runtime } from './runtime.js';
import { executeRoutes } from './routes/execute.js';
import { adminInstallRoutes } from './routes/admin-installs.js';
import { adminExtensionRoutes } from './routes/admin-extensions.js';
import { adminTenantDataRoutes } from './routes/admin-tenant-data.js';
import { adminScheduleInvoiceRoutes } from './routes/admin-schedules-invoices.js';
import { devGatewayRoutes } from './routes/dev-gateway.js';
import { healthRoutes } from './routes/health.js';
import { extUiRoutes } from './routes/ext-ui.js';
import { requireAdminToken } from './auth.js';
import { clientErrorHandler } from './client-errors.js';
import { Lingering } from './linger.js';
import { registerOpenApi } from './openapi.js';
import type { BundleAcceptance } from './bundles.js';
import { isStoreUnavailableError } from '../store/index.js';
import { RedisAdmission } from './redis-admission.js';

export interface AppOptions {
  runtime: Runtime;
  bundles: BundleAcceptance;
  serviceToken: string;
  adminToken: string;
  /** the tokens were generated for a loopback-only dev server: the dev gateway needs none */
  devMode: boolean;
  logger?: Logger;
  /** where the default logger writes (stdout when absent); tests capture the log through it */
  logDestination?: DestinationStream;
}

/** What `Retry-After` says while the database cannot be reached (a restart takes seconds). */
export const STORE_RETRY_AFTER_S = 2;

/** Uploads (bundles, components) may be larger than execute bodies. */
export const MAX_UPLOAD_BYTES = 128 * 2 ** 20;

/** The largest JSON request body: base64 grows a body by 4/3; the envelope around it is small. */
export function transportBodyLimit(maxBodyBytes: number): number {
  return Math.ceil((maxBodyBytes * 4) / 3) + 256 * 1024;
}

export interface ShutdownOptions {
  /** how long /readyz reports draining while every request is still served, before the listener closes (default 0: at once) */
  readonly drainDelayMs?: number;
}

export interface App {
  fastify: FastifyInstance;
  executor: Executor;
  /**
   * The drain sequence (docs/architecture.md, "Draining"): /readyz answers 503 `draining` at once
   * while every request is still served and new connections accepted; after `drainDelayMs` the
   * listener closes, answers carry `connection: close` and idle connections are closed; once every
   * connection has ended, in-flight executions (whose caller went away) finish.
   */
  shutdown(options?: ShutdownOptions): Promise<void>;
  /** ends the delay of a shutdown now (a second signal); a shutdown started later skips it */
  skipDrainDelay(): void;
}

/** While the listener closes: how often connections that fell idle since are closed. */
const IDLE_SWEEP_MS = 100;

export function buildApp(options: AppOptions): App {
  const { runtime } = options;
  // stdout written off the main thread: a synchronous write per line cost ~12 % of the main
  // thread under load. pino flushes it when the process exits; shutdown() flushes it too.
  const stdout = options.logger || options.logDestination ? null : pino.destination({ dest: 1, sync: false });
  const logger =
    options.logger ??
    pino(
      {
        level: runtime.config.logLevel,
        redact: { paths: ['req.headers.authorization', 'req.headers["x-runner-service-token"]', 'req.headers["x-alga-signature"]'], censor: '[redacted]' },
      },
      options.logDestination ?? stdout ?? undefined,
    );
  const fastify = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    bodyLimit: transportBodyLimit(runtime.config.maxBodyBytes),
    // X-Forwarded-For names the caller only when it comes through a proxy the operator listed
    trustProxy: runtime.config.trustedProxies.length > 0 ? runtime.config.trustedProxies.map((n) => n.text) : false,
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && /^[\w.:-]{1,200}$/.test(given) ? given : randomUUID();
    },
    // one line per request (the onResponse hook below) instead of Fastify's two
    logController: new LogController({ disableRequestLogging: true }),
    // refused in our own error format by the draining hook below
    return503OnClosing: false,
    clientErrorHandler,
    // errors Fastify raises before routing (a malformed URL, say) get our error format too
    frameworkErrors: (error, _request, reply: FastifyReply) => {
      const e = new ServiceError('invalid_request', error.message);
      void reply.code(e.status).header('cache-control', 'no-store').send(e.toJSON());
    },
  });
  const executor = new Executor(runtime, logger);
  watchLimiter(runtime, logger);
  // the message and SQLSTATE only: pg hangs the whole client (connection parameters and all) on the error
  runtime.components.log = logger;
  runtime.onStoreConnectionError = (error) => logger.warn({ code: (error as { code?: unknown }).code, cause: error.message }, 'a database connection broke; the pool opens new ones as needed');
  runtime.onChangeFeedNote = (note) => {
    if (note.kind === 'install') logger.debug({ install: note.installId }, 'install change heard: cached state dropped');
    else if (note.kind === 'listen-error') logger.warn({ cause: note.error.message }, 'the change feed lost its LISTEN connection; opening it again (everything cached counts as changed then)');
    else logger.info({ reason: note.reason }, 'change feed: everything cached about installs dropped (a change notification may have been missed)');
  };
  const lingering = new Lingering();
  // readiness says draining (requests are still served)
  let draining = false;
  // the listener is closed: every answer ends its connection
  let listenerClosed = false;
  let skipDelay = false;
  let endDelay: (() => void) | null = null;

  // the APIs speak JSON (and binary uploads): a text/plain body is 415, not a string that fails validation
  fastify.removeContentTypeParser('text/plain');
  fastify.addContentTypeParser(['application/wasm', 'application/zstd', 'application/octet-stream'], { parseAs: 'buffer', bodyLimit: MAX_UPLOAD_BYTES }, (_req, body, done) => done(null, body));
  fastify.addHook('onResponse', async (request, reply) => {
    request.log.info({ req: { method: request.method, url: request.url, remoteAddress: request.ip }, res: { statusCode: reply.statusCode }, responseTime: reply.elapsedTime }, 'request completed');
  });
  fastify.addHook('onSend', async (request, reply, payload) => {
    if (!reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store');
    // a kept-alive connection would hold the closing server open until its idle timeout
    if (listenerClosed) reply.header('connection', 'close');
    // refused before its body was read (too large, unauthorized, ...): this answer ends the
    // connection, gracefully, so the client still sending the body reads it (linger.ts)
    if (!request.raw.complete) {
      reply.header('connection', 'close');
      lingering.arm(request.raw.socket);
    }
    return payload;
  });

  fastify.setErrorHandler((error: FastifyError | ServiceError, request, reply) => {
    if (!reply.raw.headersSent) {
      // an answer that failed while being written (Node refused a header, say) leaves its headers
      // and status text on the raw response: none of it belongs to the error answer
      for (const name of reply.raw.getHeaderNames()) reply.raw.removeHeader(name);
      reply.raw.statusMessage = '';
    }
    if (!(error instanceof ServiceError) && isStoreUnavailableError(error)) {
      // the database restarting or away: temporary, and not a fault of this request or of the runner
      request.log.warn({ code: 'store_unavailable', cause: error.message }, 'the store cannot be reached');
      const e = new ServiceError('store_unavailable', undefined, { retry_after_s: STORE_RETRY_AFTER_S });
      return reply.code(e.status).header('retry-after', String(STORE_RETRY_AFTER_S)).send(e.toJSON());
    }
    if (error instanceof ServiceError) {
      if (error.status >= 500) request.log.error({ code: error.code }, error.message);
      if (typeof error.extra.retry_after_s === 'number') reply.header('retry-after', String(error.extra.retry_after_s));
      return reply.code(error.status).send(error.toJSON());
    }
    const mapped = mapFrameworkError(error);
    if (mapped.status >= 500) request.log.error({ err: error }, 'unhandled error');
    return reply.code(mapped.status).send(mapped.toJSON());
  });
  fastify.setNotFoundHandler((request, reply) => {
    const e = new ServiceError('not_found', `${request.method} ${request.url.split('?')[0]}`);
    return reply.code(e.status).send(e.toJSON());
  });

  // first: the OpenAPI document lists the routes declared after it (openapi.ts), so every route
  // below is declared inside a registered plugin, which loads after this one
  registerOpenApi(fastify);
  void fastify.register(async (api) => {
    healthRoutes(api, runtime, { isDraining: () => draining, queueDepth: () => executor.admission.queued + runtime.engine.queueDepth });
    executeRoutes(api, { executor, serviceToken: options.serviceToken, tokenlessNetworks: runtime.config.tokenlessNetworks });
    extUiRoutes(api, { runtime, bundles: options.bundles });
  });
  void fastify.register(async (admin) => {
    admin.addHook('onRequest', async (request) => requireAdminToken(request, options.adminToken));
    adminExtensionRoutes(admin, runtime, options.bundles);
    adminInstallRoutes(admin, runtime);
    adminTenantDataRoutes(admin, runtime);
    adminScheduleInvoiceRoutes(admin, runtime);
  });
  void fastify.register(async (gateway) => {
    // the guest gets the body's bytes as sent, whatever their type
    gateway.removeAllContentTypeParsers();
    gateway.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
    devGatewayRoutes(gateway, { runtime, executor, serviceToken: options.serviceToken, tokenRequired: !options.devMode });
  });

  // the store's schedules run here; with Alga's API (RUNNER_TENANT_DATA_URL) Alga runs its own
  const schedules = runtime.config.schedulePollMs > 0 && runtime.config.tenantData.kind === 'store' ? new ScheduleRunner(runtime, executor, fastify.log, runtime.config.schedulePollMs) : null;
  schedules?.start();

  return {
    fastify,
    executor,
    async shutdown({ drainDelayMs = 0 } = {}) {
      draining = true;
      if (drainDelayMs > 0 && !skipDelay) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, drainDelayMs);
          endDelay = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        endDelay = null;
      }
      listenerClosed = true;
      // live log tails never end by themselves: end them, or closing the server waits forever
      runtime.logBus.emit('shutdown');
      const closing = fastify.close();
      // connections lingering after a refusal would hold the server open for their whole bound
      lingering.closeAll();
      await schedules?.stop();
      // an answer already on its way when the listener closed went without `connection: close`:
      // its kept-alive connection is closed once idle rather than at its keep-alive timeout
      const sweep = setInterval(() => fastify.server.closeIdleConnections(), IDLE_SWEEP_MS);
      try {
        await closing;
      } finally {
        clearInterval(sweep);
      }
      await executor.drain();
      await new Promise<void>((resolve) => (stdout ? stdout.flush(() => resolve()) : resolve()));
    },
    skipDrainDelay() {
      skipDelay = true;
      endDelay?.();
    },
  };
}

/** The Redis limiter's changes of scope go to the log: an operator must see that limits became per replica. */
function watchLimiter(runtime: Runtime, logger: Logger): void {
  const { admission } = runtime;
  if (!(admission instanceof RedisAdmission)) return;
  admission.onEvent = (event) => {
    if (event.kind === 'redis_down') logger.warn({ cause: event.cause }, 'the limiter cannot reach Redis (RUNNER_REDIS_URL): per-tenant limits now hold per replica until it answers again');
    else if (event.kind === 'redis_up') logger.info('the limiter reaches Redis: per-tenant limits hold across replicas');
    else logger.warn({ tenant: event.tenant, holding: event.holding }, 'a limiter lease ran out before this process renewed it (event loop stalled?): the slot or queue place was given back');
  };
  if (admission.scope === 'replica') logger.warn('the limiter cannot reach Redis (RUNNER_REDIS_URL) at start: per-tenant limits hold per replica until it answers');
  else logger.info('the limiter reaches Redis: per-tenant limits hold across replicas');
}

function mapFrameworkError(error: FastifyError): ServiceError {
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new ServiceError('body_too_large');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new ServiceError('unsupported_media_type', error.message);
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new ServiceError('invalid_request', error.message);
  }
  if (typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 500) return new ServiceError('invalid_request', error.message);
  return new ServiceError('internal');
}

export { ERROR_CATALOG };
