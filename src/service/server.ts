/**
 * Starting and stopping the service: tokens (generated for a loopback-only dev server, required
 * otherwise), runtime, app, listen; and a graceful shutdown that drains executions first.
 */
import { randomBytes } from 'node:crypto';
import type { DestinationStream } from 'pino';
import type { ServiceConfig } from './config.js';
import { ConfigError, isLoopbackHost } from './config.js';
import { Runtime, type RuntimeSeams } from './runtime.js';
import { buildApp, type App, type ShutdownOptions } from './app.js';
import { schedulePurge, type PurgeSchedule } from './purge-schedule.js';
import { createBundleAcceptance } from './bundles.js';
import { Registration } from './registration.js';
import { assertSecretsKeyPresent } from '../store/index.js';

export interface RunningService {
  url: string;
  serviceToken: string;
  adminToken: string;
  /** true when a token was generated because none was configured */
  generatedTokens: boolean;
  runtime: Runtime;
  app: App;
  /** registers extension versions the way the admin upload does (used by the demo setup) */
  registration: Registration;
  /** graceful shutdown: the drain sequence of App.shutdown (default: no delay), then the runtime closes */
  close(options?: ShutdownOptions): Promise<void>;
  /** a close() waiting out its drain delay closes the listener now (a second signal) */
  skipDrainDelay(): void;
}

export interface StartOptions {
  /** where the service's pino log goes (stdout when absent) */
  logDestination?: DestinationStream;
  /** adds routes before the service listens (`alga-runner dev`'s stable UI address) */
  beforeListen?: (app: App) => void;
  /** the benchmark's in-memory stand-ins (RuntimeSeams); never set by `serve` */
  seams?: RuntimeSeams;
}

/** Expired idempotency records deleted on a jittered schedule; the count is logged and counted. */
function purgeIdempotencyRecords(runtime: Runtime, app: App): PurgeSchedule {
  const log = app.fastify.log;
  return schedulePurge(() => runtime.store.idempotency.purgeExpired(), runtime.config.idempotencyPurgeIntervalMs, {
    purged(count, ms) {
      runtime.metrics.idempotencyPurged.inc(count);
      log[count > 0 ? 'info' : 'debug']({ purged: count, ms: Math.round(ms) }, 'expired idempotency records purged');
    },
    failed(e) {
      log.warn({ err: e }, 'purging expired idempotency records failed; trying again at the next interval');
    },
  });
}

function warmInBackground(runtime: Runtime, app: App, limit: number): void {
  const log = app.fastify.log;
  const started = performance.now();
  runtime.warmInstalled(limit).then(
    ({ warmed, failed }) => {
      if (runtime.closing) return;
      const fields = { warmed, failed, ms: Math.round(performance.now() - started) };
      // each failure was logged with its reason (Runtime.warmInstalled)
      if (failed > 0) log.warn(fields, 'installed versions warmed at start, some failed');
      else log.info(fields, 'installed versions warmed at start');
    },
    // a shutdown during the warm-up closes the pool under it: nothing to report then
    (e: unknown) => {
      if (!runtime.closing) log.warn({ err: e }, 'warming installed versions at start stopped');
    },
  );
}

/** Settings that widen who is trusted are said at start, at warn, naming what they let in. */
function warnAboutTrust(config: ServiceConfig, app: App): void {
  const log = app.fastify.log;
  const proxies = config.trustedProxies.map((n) => n.text);
  if (config.tokenlessNetworks.length > 0) {
    log.warn(
      { networks: config.tokenlessNetworks.map((n) => n.text), trusted_proxies: proxies },
      `POST /v1/execute accepts calls without the service token from ${config.tokenlessNetworks.map((n) => n.text).join(', ')} (RUNNER_TOKENLESS_NETWORKS): anything that can reach the runner from there may run any install of any tenant`,
    );
  }
  if (proxies.length > 0) log.info({ trusted_proxies: proxies }, "the caller's address is taken from X-Forwarded-For when the connection comes from these proxies (RUNNER_TRUSTED_PROXIES)");
  if (config.envelopeSecrets) log.warn("secrets in the secret_envelope of /v1/execute calls are given to guests, over the install's stored ones (RUNNER_ENVELOPE_SECRETS=1)");
}

export async function startService(config: ServiceConfig, options: StartOptions = {}): Promise<RunningService> {
  const generatedTokens = !config.serviceToken || !config.adminToken;
  if (generatedTokens && !isLoopbackHost(config.host)) {
    throw new ConfigError(`refusing to listen on ${config.host} without RUNNER_SERVICE_TOKEN and RUNNER_ADMIN_TOKEN: set both, or listen on 127.0.0.1`);
  }
  const serviceToken = config.serviceToken ?? randomBytes(24).toString('base64url');
  const adminToken = config.adminToken ?? randomBytes(24).toString('base64url');
  const runtime = await Runtime.create(config, options.seams);
  try {
    if (!config.secretsKey) await assertSecretsKeyPresent(runtime.store.secrets);
    const bundles = await createBundleAcceptance(config, runtime.components.store);
    const app = buildApp({ runtime, bundles, serviceToken, adminToken, devMode: generatedTokens, logDestination: options.logDestination });
    options.beforeListen?.(app);
    await app.fastify.listen({ host: config.host, port: config.port });
    warnAboutTrust(config, app);
    if (config.warmOnStart > 0) warmInBackground(runtime, app, config.warmOnStart);
    const purging = purgeIdempotencyRecords(runtime, app);
    const address = app.fastify.server.address();
    const port = typeof address === 'object' && address ? address.port : config.port;
    const host = config.host.includes(':') ? `[${config.host}]` : config.host;
    let closing: Promise<void> | null = null;
    return {
      url: `http://${host}:${port}`,
      serviceToken,
      adminToken,
      generatedTokens,
      runtime,
      app,
      registration: new Registration(runtime, bundles),
      close(options) {
        closing ??= (async () => {
          await app.shutdown(options);
          await purging.stop();
          await runtime.close();
        })();
        return closing;
      },
      skipDrainDelay: () => app.skipDrainDelay(),
    };
  } catch (e) {
    await runtime.close();
    throw e;
  }
}
