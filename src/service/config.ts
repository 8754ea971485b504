/**
 * Service configuration: read once at start from flags and environment, validated, typed.
 * Nothing else in the service reads `process.env`.
 */
import { isIP } from 'node:net';
import { availableParallelism, totalmem } from 'node:os';
import { resolve } from 'node:path';
import { z } from 'zod';
import { DEFAULT_LIMITS, MAX_TIMEOUT_MS } from '../engine/limits.js';
import { HOT_WAIT_MS } from '../engine/hot-wait.js';
import { DEFAULT_FAIRNESS } from '../engine/fair-scheduler.js';
import { SQLITE_SYNCHRONOUS } from '../store/sqlite-synchronous.js';
import { parseNetworks, type IpNetwork } from '../net/ip-networks.js';
import { DEFAULT_IN_FLIGHT_LEASE_MS } from '../store/idempotency.js';

const positiveInt = z.coerce.number().int().positive();
const flag = z
  .enum(['0', '1', 'true', 'false', ''])
  .optional()
  .transform((v) => v === '1' || v === 'true');
/** A switch that is on unless set to 0 or false (unset and empty: on). */
const onByDefault = z
  .enum(['0', '1', 'true', 'false'], { message: 'must be 0, 1, true or false' })
  .optional()
  .transform((v) => v === undefined || v === '1' || v === 'true');

/** A list of CIDRs in a setting, parsed (ip-networks.ts); unset or empty: none. */
const networkList = z
  .string()
  .optional()
  .transform((v, ctx): IpNetwork[] => {
    const parsed = parseNetworks(v ?? '');
    if (parsed.kind === 'ok') return parsed.networks;
    ctx.addIssue({ code: 'custom', message: parsed.message });
    return z.NEVER;
  });
const httpUrl = (message: string) => z.url({ protocol: /^https?$/, message });

/**
 * RUNNER_COMPONENT_STORE and the settings of the chosen kind. Unset: `postgres` when DATABASE_URL
 * is set (replicas share the database, so they share the store with nothing else to run), else
 * `local` (`<dataDir>/bundles`, one process).
 */
const componentStoreSchema = z.discriminatedUnion(
  'kind',
  [
    z.strictObject({ kind: z.literal('postgres') }),
    z.strictObject({ kind: z.literal('local') }),
    z.strictObject({
      kind: z.literal('s3'),
      bucket: z.string({ message: 'is required with RUNNER_COMPONENT_STORE=s3' }).min(1, 'is required with RUNNER_COMPONENT_STORE=s3'),
      prefix: z
        .string()
        .regex(/^[A-Za-z0-9._/-]*$/, 'must be a plain key prefix (letters, digits, . _ - /)')
        .optional(),
      region: z.string().min(1),
      endpoint: httpUrl('must be an http(s) URL (an S3-compatible server; omit it for AWS)').optional(),
    }),
    z.strictObject({ kind: z.literal('http'), baseUrl: httpUrl('is required with RUNNER_COMPONENT_STORE=http and must be an http(s) URL') }),
  ],
  { error: 'must be postgres, s3, http or local' },
);

export type ComponentStoreConfig = z.infer<typeof componentStoreSchema>;

/** Settings of each store kind, by environment variable: one set for another kind is a mistake worth saying. */
const COMPONENT_STORE_SETTINGS = {
  RUNNER_COMPONENT_STORE_BUCKET: ['s3', 'bucket'],
  RUNNER_COMPONENT_STORE_PREFIX: ['s3', 'prefix'],
  RUNNER_COMPONENT_STORE_REGION: ['s3', 'region'],
  RUNNER_COMPONENT_STORE_ENDPOINT: ['s3', 'endpoint'],
  RUNNER_COMPONENT_STORE_URL: ['http', 'baseUrl'],
} as const;

function componentStoreInput(env: NodeJS.ProcessEnv, databaseUrl: string | undefined): { raw: Record<string, unknown>; misplaced: string[] } {
  const kind = (env.RUNNER_COMPONENT_STORE || (databaseUrl ? 'postgres' : 'local')).toLowerCase();
  const raw: Record<string, unknown> = { kind };
  const misplaced: string[] = [];
  for (const [name, [forKind, field]] of Object.entries(COMPONENT_STORE_SETTINGS)) {
    const value = env[name];
    if (value === undefined || value === '') continue;
    if (forKind === kind) raw[field] = value;
    else misplaced.push(`  - ${name}: only used with RUNNER_COMPONENT_STORE=${forKind} (the store is ${kind})`);
  }
  if (kind === 's3') raw.region ??= env.AWS_REGION || 'us-east-1';
  return { raw, misplaced };
}

const configSchema = z
  .object({
    host: z.string().min(1),
    port: z.coerce.number().int().min(0).max(65535),
    dataDir: z.string().min(1),
    databaseUrl: z
      .string()
      .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL (omit it for the embedded SQLite store)')
      .optional(),
    /** PostgreSQL only: the schema to use (created if missing) instead of the connection's default */
    databaseSchema: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]{0,62}$/, 'must be a plain SQL identifier')
      .optional(),
    /** SQLite only: fsync every commit (full) or leave it to checkpoints (normal); src/store/open-store.ts */
    sqliteSynchronous: z.enum(SQLITE_SYNCHRONOUS, { message: 'must be full or normal' }),
    serviceToken: z.string().min(16, 'must be at least 16 characters').optional(),
    adminToken: z.string().min(16, 'must be at least 16 characters').optional(),
    /** networks whose callers may use POST /v1/execute without the service token (docs/security.md); empty: none */
    tokenlessNetworks: networkList,
    /** proxies whose X-Forwarded-For is believed for the caller's address; empty: the socket's peer is the caller */
    trustedProxies: networkList,
    secretsKey: z.string().optional(),
    /** guests get the secrets of an execute request's secret_envelope, over the install's stored ones (service/secret-envelope.ts) */
    envelopeSecrets: z.boolean(),
    /** Vault's transit engine, for vault-transit envelopes; null: none configured */
    vault: z
      .object({
        addr: z.url({ protocol: /^https?$/, message: 'must be an http(s) URL' }),
        token: z.string().min(1, 'is required with RUNNER_VAULT_ADDR'),
        namespace: z.string().min(1).optional(),
        mount: z.string().regex(/^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)*$/, 'must be a Vault mount path, e.g. transit'),
        keys: z.array(z.string().regex(/^[A-Za-z0-9_.-]+$/, 'must be transit key names')).min(1, 'name at least one transit key with RUNNER_VAULT_ADDR'),
        timeoutMs: positiveInt.max(60_000),
      })
      .nullable(),
    egressAllowPrivate: z.boolean(),
    /** restores copy only the blocks a request wrote (src/engine/write-tracking.ts); off: all of memory */
    writeTracking: onByDefault,
    /** over the embedded SQLite store, guest workers answer reads themselves under load (capability.ts `in-worker`); off: round trips */
    workerReads: onByDefault,
    /** how long the main thread watches a running worker before sleeping (ms; 0 = never; src/engine/hot-wait.ts) */
    hotWaitMs: z.coerce.number({ message: 'must be a number of milliseconds' }).min(0, 'must be 0 or more').max(10, 'must be at most 10'),
    /** CPU cores the service may use (its CPU quota): the default worker count, and when the hot wait may spin */
    cores: positiveInt.max(1024),
    workers: positiveInt.max(256),
    /** linear memory each worker's idle guest instances may hold (MiB): past it the least recently used go (engine/guest/instance-pool.ts) */
    instanceMemoryMb: positiveInt.max(1024 * 1024),
    /** installed versions warmed at start (distinct component and memory cap), most recently changed first; 0 = none */
    warmOnStart: z.coerce.number().int().min(0).max(1024),
    /** operator maximum for a caller's or install's timeout */
    maxTimeoutMs: positiveInt.max(MAX_TIMEOUT_MS),
    defaultTimeoutMs: positiveInt,
    maxMemoryMb: positiveInt.max(4096),
    /** executions running at once per tenant, then a bounded queue, then 429 */
    tenantConcurrency: positiveInt,
    tenantQueue: z.coerce.number().int().min(0),
    /** executions waiting across all tenants before 503 */
    globalQueue: positiveInt,
    /** Redis for the per-tenant limits shared by every replica (src/service/redis-admission.ts); unset: the limits hold per replica */
    redisUrl: z
      .string()
      .regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL')
      .optional(),
    /** prefix of the limiter's Redis keys: replicas that share limits share it */
    redisPrefix: z.string().min(1).max(100),
    /** how long a replica's slot or queue place outlives its last renewal (a crashed replica's come back within it) */
    limiterLeaseMs: positiveInt.min(1000, 'must be at least 1000').max(600_000, 'must be at most 600000'),
    /** costly faults (deadline, worker crash, memory limit) of an install within penaltyMs that put it on probation; 0 = never (src/engine/fair-scheduler.ts) */
    penaltyStrikes: z.coerce.number().int().min(0).max(1000),
    /** how long such a fault counts, and probation lasts after the latest one */
    penaltyMs: positiveInt.max(24 * 3600 * 1000),
    /** how often each process reads the change counter, the backstop for a lost notification (ms; src/store/change-feed.ts) */
    changeRecheckMs: positiveInt.min(10).max(3600 * 1000),
    /** PostgreSQL: hear other replicas' changes over LISTEN (off: only the re-check, e.g. behind a pooler that cannot LISTEN) */
    changeListen: onByDefault,
    /** a live log tail's backstop poll (ms); appends on any replica wake it through the change feed */
    logTailPollMs: positiveInt.min(10).max(3600 * 1000),
    /** how many installs get their own extension/install labels on the per-install execution metrics (first seen first); the rest count as `other`; 0 = no such metrics */
    metricsInstallLabels: z.coerce.number().int().min(0).max(10_000),
    maxBodyBytes: positiveInt,
    idempotencyTtlMs: positiveInt,
    /** how long an in-flight idempotency claim holds its key unless its process renews it (every third of it): how soon another replica takes over the key of a process that died */
    idempotencyLeaseMs: z.coerce.number().int().min(300, 'must be at least 300 ms').max(600_000, 'must be at most 600000 ms'),
    /** how often (on average; jittered) expired idempotency records are deleted; 0 = never */
    idempotencyPurgeIntervalMs: z.coerce
      .number()
      .int()
      .min(0)
      .max(7 * 24 * 3600 * 1000),
    /** on SIGTERM: how long /readyz reports draining while every request is still served, before the listener closes */
    drainDelayMs: z.coerce.number().int().min(0).max(600_000),
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
    /** how often the store's due schedules are looked for (ms); 0 = this process runs none (src/service/schedule-runner.ts) */
    schedulePollMs: z.coerce.number().int().min(0).max(3_600_000),
    /** where installs come from: the runner's own registry (`standalone`), or each caller's envelope (`alga`: Alga is the registry; docs/alga.md) */
    registry: z.enum(['standalone', 'alga'], { message: 'must be standalone or alga' }),
    /** the Alga-managed mode's settings for every install (Alga's runner: EXT_EGRESS_ALLOWLIST, UI_PROXY_BASE_URL) */
    managed: z.object({ egressAllow: z.array(z.string().min(1)), uiProxyBaseUrl: z.url().optional() }),
    tenantData: z.discriminatedUnion('kind', [z.object({ kind: z.literal('store') }), z.object({ kind: z.literal('alga'), baseUrl: z.url(), token: z.string().min(1) })]),
    requireSignatures: z.boolean(),
    trustFile: z.string().optional(),
    uiFrameAncestors: z.string().min(1),
    /** extension id or name served by the dev gateway's default tenant */
    devTenant: z.string().min(1),
    /** where uploads keep their bytes for every replica (src/service/component-store.ts) */
    componentStore: componentStoreSchema,
    /** longest a request (or warm-up) waits for a version's component to be fetched from the store and prepared */
    componentFetchTimeoutMs: positiveInt.max(3_600_000),
  })
  .refine((c) => c.defaultTimeoutMs <= c.maxTimeoutMs, { message: 'the default timeout exceeds the maximum', path: ['defaultTimeoutMs'] })
  .refine((c) => !c.databaseSchema || c.databaseUrl, { message: 'RUNNER_DATABASE_SCHEMA needs a PostgreSQL database URL', path: ['databaseSchema'] })
  .refine((c) => !c.requireSignatures || c.trustFile, { message: 'RUNNER_REQUIRE_SIGNATURES=1 needs RUNNER_TRUST_FILE', path: ['trustFile'] })
  .refine((c) => c.registry !== 'alga' || c.tenantData.kind === 'alga', {
    message: "RUNNER_REGISTRY=alga needs RUNNER_TENANT_DATA_URL and RUNNER_TENANT_DATA_TOKEN (Alga's internal API serves the installs' storage and data)",
    path: ['registry'],
  })
  .refine((c) => c.registry !== 'alga' || c.componentStore.kind === 'http' || c.componentStore.kind === 's3', {
    message: "RUNNER_REGISTRY=alga needs RUNNER_COMPONENT_STORE=http or s3 pointing at Alga's bundle store",
    path: ['registry'],
  })
  .refine((c) => c.componentStore.kind !== 'postgres' || c.databaseUrl, { message: 'postgres needs DATABASE_URL (the store is a table of that database)', path: ['componentStore', 'kind'] });

export type ServiceConfig = z.infer<typeof configSchema>;

/**
 * Installed versions a restarted runner warms: enough for the extensions in daily use, few enough
 * that a runner with hundreds of installs does not load them all (a worker keeps 16 guests).
 */
export const WARM_ON_START = 8;

/**
 * How long a request waits for a component fetched from the store and prepared (transpiled) on
 * this replica: a 12 MB JavaScript guest transpiles in seconds, a slow store adds its transfer.
 */
export const COMPONENT_FETCH_TIMEOUT_MS = 60_000;

/** Expired idempotency records are deleted about this often (each replica, jittered). */
export const IDEMPOTENCY_PURGE_INTERVAL_MS = 10 * 60 * 1000;

/**
 * After SIGTERM, how long the service keeps serving while /readyz says draining, before its
 * listener closes: the time a load balancer needs to stop sending it new requests. Kubernetes
 * removes a terminating pod from its endpoints at once, but kube-proxy, ingress controllers and
 * Knative's activator learn of it over the next seconds.
 */
export const DRAIN_DELAY_MS = 5_000;

/** The change feed's backstop re-check: a change whose notification was lost is in force within about this (ms). */
export const CHANGE_RECHECK_MS = 1_000;
/** A live log tail's backstop poll (ms); notifications wake it at once. */
export const LOG_TAIL_POLL_MS = 2_000;

export interface ServeFlags {
  port?: string;
  host?: string;
  dataDir?: string;
  databaseUrl?: string;
  workers?: string;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Flags win over environment; environment wins over defaults. */
export function loadConfig(flags: ServeFlags, env: NodeJS.ProcessEnv = process.env): ServiceConfig {
  const tenantDataUrl = env.RUNNER_TENANT_DATA_URL;
  // availableParallelism() sees CPU affinity, not a container's CPU quota: RUNNER_CORES says it
  const cores = env.RUNNER_CORES || String(availableParallelism());
  const databaseUrl = flags.databaseUrl ?? (env.DATABASE_URL || undefined);
  const componentStore = componentStoreInput(env, databaseUrl);
  const raw = {
    host: flags.host ?? env.HOST ?? '127.0.0.1',
    port: flags.port ?? env.PORT ?? '8080',
    dataDir: resolve(flags.dataDir ?? env.RUNNER_DATA_DIR ?? '.data'),
    databaseUrl,
    databaseSchema: env.RUNNER_DATABASE_SCHEMA || undefined,
    sqliteSynchronous: (env.RUNNER_SQLITE_SYNCHRONOUS || 'full').toLowerCase(),
    serviceToken: env.RUNNER_SERVICE_TOKEN || undefined,
    adminToken: env.RUNNER_ADMIN_TOKEN || undefined,
    tokenlessNetworks: env.RUNNER_TOKENLESS_NETWORKS || undefined,
    trustedProxies: env.RUNNER_TRUSTED_PROXIES || undefined,
    secretsKey: env.RUNNER_SECRETS_KEY || undefined,
    envelopeSecrets: flag.parse(env.RUNNER_ENVELOPE_SECRETS),
    vault: env.RUNNER_VAULT_ADDR
      ? {
          addr: env.RUNNER_VAULT_ADDR,
          token: env.RUNNER_VAULT_TOKEN ?? '',
          namespace: env.RUNNER_VAULT_NAMESPACE || undefined,
          mount: (env.RUNNER_VAULT_TRANSIT_MOUNT || 'transit').replace(/^\/+|\/+$/g, ''),
          keys: (env.RUNNER_VAULT_TRANSIT_KEYS ?? '')
            .split(',')
            .map((k) => k.trim())
            .filter(Boolean),
          timeoutMs: env.RUNNER_VAULT_TIMEOUT_MS ?? '5000',
        }
      : null,
    egressAllowPrivate: flag.parse(env.RUNNER_EGRESS_ALLOW_PRIVATE),
    writeTracking: env.RUNNER_WRITE_TRACKING || undefined,
    workerReads: env.RUNNER_WORKER_READS || undefined,
    hotWaitMs: env.RUNNER_HOT_WAIT_MS || String(HOT_WAIT_MS),
    cores,
    workers: flags.workers ?? env.RUNNER_WORKERS ?? String(cores),
    instanceMemoryMb: env.RUNNER_INSTANCE_MEMORY_MB ?? String(defaultInstanceMemoryMb(Number(flags.workers ?? env.RUNNER_WORKERS ?? cores))),
    warmOnStart: env.RUNNER_WARM_ON_START ?? String(WARM_ON_START),
    maxTimeoutMs: env.RUNNER_MAX_TIMEOUT_MS ?? String(MAX_TIMEOUT_MS),
    defaultTimeoutMs: env.RUNNER_DEFAULT_TIMEOUT_MS ?? String(DEFAULT_LIMITS.timeoutMs),
    maxMemoryMb: env.RUNNER_MAX_MEMORY_MB ?? '1024',
    tenantConcurrency: env.RUNNER_TENANT_CONCURRENCY ?? '8',
    tenantQueue: env.RUNNER_TENANT_QUEUE ?? '32',
    globalQueue: env.RUNNER_GLOBAL_QUEUE ?? '1024',
    redisUrl: env.RUNNER_REDIS_URL || undefined,
    redisPrefix: env.RUNNER_REDIS_PREFIX || 'alga-runner:',
    limiterLeaseMs: env.RUNNER_LIMITER_LEASE_MS ?? '10000',
    penaltyStrikes: env.RUNNER_PENALTY_STRIKES ?? String(DEFAULT_FAIRNESS.strikes),
    penaltyMs: env.RUNNER_PENALTY_MS ?? String(DEFAULT_FAIRNESS.penaltyMs),
    changeRecheckMs: env.RUNNER_CHANGE_RECHECK_MS ?? String(CHANGE_RECHECK_MS),
    changeListen: env.RUNNER_CHANGE_LISTEN || undefined,
    logTailPollMs: env.RUNNER_LOG_TAIL_POLL_MS ?? String(LOG_TAIL_POLL_MS),
    metricsInstallLabels: env.RUNNER_METRICS_INSTALL_LABELS ?? '0',
    maxBodyBytes: env.RUNNER_MAX_BODY_BYTES ?? String(10 * 2 ** 20),
    idempotencyTtlMs: env.RUNNER_IDEMPOTENCY_TTL_MS ?? String(24 * 3600 * 1000),
    idempotencyLeaseMs: env.RUNNER_IDEMPOTENCY_LEASE_MS ?? String(DEFAULT_IN_FLIGHT_LEASE_MS),
    idempotencyPurgeIntervalMs: env.RUNNER_IDEMPOTENCY_PURGE_INTERVAL_MS ?? String(IDEMPOTENCY_PURGE_INTERVAL_MS),
    drainDelayMs: env.RUNNER_DRAIN_DELAY_MS ?? String(DRAIN_DELAY_MS),
    logLevel: env.LOG_LEVEL ?? 'info',
    schedulePollMs: env.RUNNER_SCHEDULE_POLL_MS ?? '1000',
    registry: (env.RUNNER_REGISTRY || 'standalone').toLowerCase(),
    managed: {
      egressAllow: (env.RUNNER_MANAGED_EGRESS_ALLOW ?? '')
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
      uiProxyBaseUrl: env.RUNNER_MANAGED_UI_PROXY_URL || undefined,
    },
    tenantData: tenantDataUrl ? { kind: 'alga', baseUrl: tenantDataUrl, token: env.RUNNER_TENANT_DATA_TOKEN ?? '' } : { kind: 'store' },
    requireSignatures: flag.parse(env.RUNNER_REQUIRE_SIGNATURES),
    trustFile: env.RUNNER_TRUST_FILE || undefined,
    uiFrameAncestors: env.RUNNER_UI_FRAME_ANCESTORS ?? "'self'",
    devTenant: env.RUNNER_DEV_TENANT ?? 'demo',
    componentStore: componentStore.raw,
    componentFetchTimeoutMs: env.RUNNER_COMPONENT_FETCH_TIMEOUT_MS || String(COMPONENT_FETCH_TIMEOUT_MS),
  };
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success || componentStore.misplaced.length > 0) {
    const problems = [...(parsed.error?.issues.map((i) => `  - ${envNameOf(i.path.join('.'))}: ${i.message}`) ?? []), ...componentStore.misplaced].join('\n');
    throw new ConfigError(`invalid configuration:\n${problems}`);
  }
  return parsed.data;
}

const ENV_NAMES: Record<string, string> = {
  host: '--host / HOST',
  port: '--port / PORT',
  dataDir: '--data-dir / RUNNER_DATA_DIR',
  databaseUrl: '--database-url / DATABASE_URL',
  databaseSchema: 'RUNNER_DATABASE_SCHEMA',
  sqliteSynchronous: 'RUNNER_SQLITE_SYNCHRONOUS',
  serviceToken: 'RUNNER_SERVICE_TOKEN',
  adminToken: 'RUNNER_ADMIN_TOKEN',
  envelopeSecrets: 'RUNNER_ENVELOPE_SECRETS',
  'vault.addr': 'RUNNER_VAULT_ADDR',
  'vault.token': 'RUNNER_VAULT_TOKEN',
  'vault.namespace': 'RUNNER_VAULT_NAMESPACE',
  'vault.mount': 'RUNNER_VAULT_TRANSIT_MOUNT',
  'vault.keys': 'RUNNER_VAULT_TRANSIT_KEYS',
  'vault.timeoutMs': 'RUNNER_VAULT_TIMEOUT_MS',
  tokenlessNetworks: 'RUNNER_TOKENLESS_NETWORKS',
  trustedProxies: 'RUNNER_TRUSTED_PROXIES',
  cores: 'RUNNER_CORES',
  workers: '--workers / RUNNER_WORKERS',
  instanceMemoryMb: 'RUNNER_INSTANCE_MEMORY_MB',
  warmOnStart: 'RUNNER_WARM_ON_START',
  writeTracking: 'RUNNER_WRITE_TRACKING',
  workerReads: 'RUNNER_WORKER_READS',
  hotWaitMs: 'RUNNER_HOT_WAIT_MS',
  maxTimeoutMs: 'RUNNER_MAX_TIMEOUT_MS',
  defaultTimeoutMs: 'RUNNER_DEFAULT_TIMEOUT_MS',
  maxMemoryMb: 'RUNNER_MAX_MEMORY_MB',
  tenantConcurrency: 'RUNNER_TENANT_CONCURRENCY',
  tenantQueue: 'RUNNER_TENANT_QUEUE',
  globalQueue: 'RUNNER_GLOBAL_QUEUE',
  redisUrl: 'RUNNER_REDIS_URL',
  redisPrefix: 'RUNNER_REDIS_PREFIX',
  limiterLeaseMs: 'RUNNER_LIMITER_LEASE_MS',
  penaltyStrikes: 'RUNNER_PENALTY_STRIKES',
  penaltyMs: 'RUNNER_PENALTY_MS',
  changeRecheckMs: 'RUNNER_CHANGE_RECHECK_MS',
  changeListen: 'RUNNER_CHANGE_LISTEN',
  logTailPollMs: 'RUNNER_LOG_TAIL_POLL_MS',
  metricsInstallLabels: 'RUNNER_METRICS_INSTALL_LABELS',
  maxBodyBytes: 'RUNNER_MAX_BODY_BYTES',
  idempotencyTtlMs: 'RUNNER_IDEMPOTENCY_TTL_MS',
  idempotencyLeaseMs: 'RUNNER_IDEMPOTENCY_LEASE_MS',
  idempotencyPurgeIntervalMs: 'RUNNER_IDEMPOTENCY_PURGE_INTERVAL_MS',
  drainDelayMs: 'RUNNER_DRAIN_DELAY_MS',
  logLevel: 'LOG_LEVEL',
  schedulePollMs: 'RUNNER_SCHEDULE_POLL_MS',
  registry: 'RUNNER_REGISTRY',
  'managed.egressAllow': 'RUNNER_MANAGED_EGRESS_ALLOW',
  'managed.uiProxyBaseUrl': 'RUNNER_MANAGED_UI_PROXY_URL',
  'tenantData.baseUrl': 'RUNNER_TENANT_DATA_URL',
  'tenantData.token': 'RUNNER_TENANT_DATA_TOKEN',
  trustFile: 'RUNNER_TRUST_FILE',
  'componentStore.kind': 'RUNNER_COMPONENT_STORE',
  componentStore: 'RUNNER_COMPONENT_STORE',
  'componentStore.bucket': 'RUNNER_COMPONENT_STORE_BUCKET',
  'componentStore.prefix': 'RUNNER_COMPONENT_STORE_PREFIX',
  'componentStore.region': 'RUNNER_COMPONENT_STORE_REGION / AWS_REGION',
  'componentStore.endpoint': 'RUNNER_COMPONENT_STORE_ENDPOINT',
  'componentStore.baseUrl': 'RUNNER_COMPONENT_STORE_URL',
  componentFetchTimeoutMs: 'RUNNER_COMPONENT_FETCH_TIMEOUT_MS',
};

function envNameOf(path: string): string {
  // an item of a list setting is the setting's
  const setting = path.replace(/\.\d+$/, '');
  return ENV_NAMES[setting] ?? setting;
}

/** Loopback hosts may run without tokens (a generated one is printed); anything else may not. */
export function isLoopbackHost(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1';
}

/**
 * A 64th of the machine's memory shared by the workers, between 64 MiB and 1 GiB each. Instances
 * of one engine lend themselves to each other's guests, so a few per worker serve any number of
 * extensions; more only spare the copy of a guest's own data when it is switched in.
 */
export function defaultInstanceMemoryMb(workers: number): number {
  const perWorker = Math.floor(totalmem() / 2 ** 20 / 64 / Math.max(1, workers || 1));
  return Math.min(1024, Math.max(64, perWorker));
}
