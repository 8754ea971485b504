/** `alga-runner serve`: the HTTP service (docs/openapi.json). Config: flags, then environment (README.md). */
import type { Command } from 'commander';
import type { ServeFlags } from '../../service/config.js';
import type { RunningService } from '../../service/server.js';

export function registerServeCommand(program: Command): void {
  program
    .command('serve')
    .description('run the runner service: execute API, admin API, dev gateway, health and metrics')
    .option('--port <n>', 'port to listen on (env PORT, default 8080)')
    .option('--host <host>', 'address to listen on (env HOST, default 127.0.0.1)')
    .option('--data-dir <dir>', 'data directory: SQLite store, artifacts, bundles (env RUNNER_DATA_DIR, default .data)')
    .option('--database-url <url>', 'PostgreSQL URL instead of the embedded SQLite store (env DATABASE_URL)')
    .option('--workers <n>', 'guest worker threads (env RUNNER_WORKERS, default: RUNNER_CORES)')
    .addHelpText(
      'after',
      `
Environment: RUNNER_SERVICE_TOKEN, RUNNER_ADMIN_TOKEN (required unless listening on loopback, where
generated tokens are printed), RUNNER_REGISTRY (standalone, the default: the runner's own registry;
alga: Alga is the registry, each execute envelope says the install, bundles come from Alga's bundle
store and storage from Alga's API; needs RUNNER_TENANT_DATA_URL and an http or s3
RUNNER_COMPONENT_STORE) + RUNNER_MANAGED_EGRESS_ALLOW, RUNNER_MANAGED_UI_PROXY_URL (its http.fetch
allowlist and ui-proxy upstream for every install), RUNNER_SECRETS_KEY (32 bytes as base64 or 64 hex), DATABASE_URL,
RUNNER_DATABASE_SCHEMA (PostgreSQL schema, created if missing), RUNNER_COMPONENT_STORE (where
uploads keep their bytes for every replica: postgres, the default with DATABASE_URL; s3; http,
read-only; local, the default without) + RUNNER_COMPONENT_STORE_BUCKET, _PREFIX, _REGION (or
AWS_REGION), _ENDPOINT (s3) or RUNNER_COMPONENT_STORE_URL (http), RUNNER_COMPONENT_FETCH_TIMEOUT_MS
(wait for a component fetched from the store and prepared, default 60000), RUNNER_SQLITE_SYNCHRONOUS (full,
the default, or normal: no fsync per commit), RUNNER_DATA_DIR, PORT,
RUNNER_EGRESS_ALLOW_PRIVATE=1, RUNNER_TENANT_DATA_URL + RUNNER_TENANT_DATA_TOKEN (Alga's internal
API for clients, services, scheduler and invoicing), RUNNER_SCHEDULE_POLL_MS (how often due schedules
are looked for, default 1000, 0 = never), RUNNER_SCHEDULE_MUTATIONS_PER_MINUTE (the store scheduler's
limit on an install's schedule creates, updates and deletes a minute, Alga's 10 by default, 0 = none),
RUNNER_REQUIRE_SIGNATURES=1 + RUNNER_TRUST_FILE,
RUNNER_DEFAULT_TIMEOUT_MS, RUNNER_MAX_TIMEOUT_MS, RUNNER_MAX_MEMORY_MB, RUNNER_MAX_BODY_BYTES,
RUNNER_IDEMPOTENCY_TTL_MS, RUNNER_IDEMPOTENCY_LEASE_MS (an in-flight key's lease, renewed by its
process: how soon another replica takes over a dead one's key, default 10000),
RUNNER_IDEMPOTENCY_PURGE_INTERVAL_MS (expired records deleted about this often, jittered, default
600000, 0 = never), RUNNER_DRAIN_DELAY_MS (on SIGTERM: /readyz says draining while requests are
still served for this long before the listener closes; default 5000, 0 = close at once; a second
signal skips it), RUNNER_TENANT_CONCURRENCY, RUNNER_TENANT_QUEUE, RUNNER_GLOBAL_QUEUE,
RUNNER_REDIS_URL (redis:// URL: per-tenant concurrency and queue shared by every replica; unset: per
replica; Redis unreachable: per replica until it answers, docs/limits.md), RUNNER_REDIS_PREFIX (key
prefix, default alga-runner:), RUNNER_LIMITER_LEASE_MS (a crashed replica's slots come back within
it, default 10000),
RUNNER_PENALTY_STRIKES + RUNNER_PENALTY_MS (costly faults that put an install on probation, default
2 within 60000 ms, 0 strikes = never),
RUNNER_TOKENLESS_NETWORKS (CIDRs whose callers may use /v1/execute without the service token; off by
default) + RUNNER_TRUSTED_PROXIES (proxies whose X-Forwarded-For names the caller),
RUNNER_ENVELOPE_SECRETS=1 (guests get the secrets of a request's secret_envelope) + RUNNER_VAULT_ADDR,
RUNNER_VAULT_TOKEN, RUNNER_VAULT_TRANSIT_KEYS, RUNNER_VAULT_TRANSIT_MOUNT, RUNNER_VAULT_NAMESPACE,
RUNNER_VAULT_TIMEOUT_MS (Vault transit, for vault-transit envelopes),
RUNNER_UI_FRAME_ANCESTORS, RUNNER_DEV_TENANT, RUNNER_WRITE_TRACKING=0 (restore all of memory),
RUNNER_WORKER_READS=0 (workers never read the store themselves), RUNNER_INSTANCE_MEMORY_MB (idle guest
instances' memory per worker; default derived from the machine's memory),
RUNNER_HOT_WAIT_MS (main-thread hot wait, default 0.5, 0 = off), RUNNER_CORES (CPU cores or quota;
default: available parallelism), RUNNER_WARM_ON_START (installed
versions warmed at start, default 8, 0 = none), RUNNER_CHANGE_RECHECK_MS (backstop re-check of
install changes across replicas, default 1000), RUNNER_CHANGE_LISTEN=0 (PostgreSQL: no LISTEN,
only the re-check), RUNNER_LOG_TAIL_POLL_MS (live log tail backstop poll, default 2000), RUNNER_METRICS_INSTALL_LABELS
(installs with their own labels on the per-install execution metrics, default 0 = none), LOG_LEVEL.
The README describes each.`,
    )
    .action(async (flags: ServeFlags) => {
      // loaded here, not at the top: `alga-runner --help` and the author commands stay fast
      const { loadConfig } = await import('../../service/config.js');
      const { startService } = await import('../../service/server.js');
      const service = await startService(loadConfig(flags));
      printBanner(service);
      closeOnSignals(service);
    });
}

export function printBanner(service: RunningService): void {
  process.stderr.write(`alga-runner listening on ${service.url}\n`);
  if (service.generatedTokens) {
    process.stderr.write(`  generated tokens (set RUNNER_SERVICE_TOKEN / RUNNER_ADMIN_TOKEN to choose your own):\n`);
    process.stderr.write(`  service token: ${service.serviceToken}\n  admin token:   ${service.adminToken}\n`);
  }
}

/**
 * SIGTERM/SIGINT: the drain sequence (App.shutdown) with RUNNER_DRAIN_DELAY_MS, then exit 0; a
 * second signal skips what is left of the delay.
 */
export function closeOnSignals(service: RunningService, drainDelayMs = service.runtime.config.drainDelayMs): void {
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      process.stderr.write(`${signal} again: closing the listener now\n`);
      service.skipDrainDelay();
      return;
    }
    stopping = true;
    process.stderr.write(
      drainDelayMs > 0
        ? `${signal}: draining: /readyz reports not ready; requests are still served until the listener closes in ${drainDelayMs} ms (${signal === 'SIGINT' ? 'Ctrl-C' : 'a second signal'} closes it now), then in-flight executions finish\n`
        : `${signal}: draining in-flight executions, then stopping\n`,
    );
    service.close({ drainDelayMs }).then(
      () => process.exit(0),
      (e: unknown) => {
        process.stderr.write(`shutdown failed: ${String(e)}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}
