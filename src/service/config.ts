/**
 * Service configuration: read once at start from flags and environment, validated, typed.
 * Nothing else in the service reads `process.env`.
 */
import { isIP } from 'node:net';
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { z } from 'zod';
import { DEFAULT_LIMITS, MAX_TIMEOUT_MS } from '../engine/limits.js';
import { HOT_WAIT_MS } from '../engine/hot-wait.js';
import { DEFAULT_FAIRNESS } from '../engine/fair-scheduler.js';
import { SQLITE_SYNCHRONOUS } from '../store/sqlite-synchronous.js';

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
    secretsKey: z.string().optional(),
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
    maxBodyBytes: positiveInt,
    idempotencyTtlMs: positiveInt,
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
    tenantData: z.discriminatedUnion('kind', [z.object({ kind: z.literal('store') }), z.object({ kind: z.literal('alga'), baseUrl: z.url(), token: z.string().min(1) })]),
    requireSignatures: z.boolean(),
    trustFile: z.string().optional(),
    uiFrameAncestors: z.string().min(1),
    /** extension id or name served by the dev gateway's default tenant */
    devTenant: z.string().min(1),
  })
  .refine((c) => c.defaultTimeoutMs <= c.maxTimeoutMs, { message: 'the default timeout exceeds the maximum', path: ['defaultTimeoutMs'] })
  .refine((c) => !c.databaseSchema || c.databaseUrl, { message: 'RUNNER_DATABASE_SCHEMA needs a PostgreSQL database URL', path: ['databaseSchema'] })
  .refine((c) => !c.requireSignatures || c.trustFile, { message: 'RUNNER_REQUIRE_SIGNATURES=1 needs RUNNER_TRUST_FILE', path: ['trustFile'] });

export type ServiceConfig = z.infer<typeof configSchema>;

/**
 * Installed versions a restarted runner warms: enough for the extensions in daily use, few enough
 * that a runner with hundreds of installs does not load them all (a worker keeps 16 guests).
 */
export const WARM_ON_START = 8;

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
  const raw = {
    host: flags.host ?? env.HOST ?? '127.0.0.1',
    port: flags.port ?? env.PORT ?? '8080',
    dataDir: resolve(flags.dataDir ?? env.RUNNER_DATA_DIR ?? '.data'),
    databaseUrl: flags.databaseUrl ?? (env.DATABASE_URL || undefined),
    databaseSchema: env.RUNNER_DATABASE_SCHEMA || undefined,
    sqliteSynchronous: (env.RUNNER_SQLITE_SYNCHRONOUS || 'full').toLowerCase(),
    serviceToken: env.RUNNER_SERVICE_TOKEN || undefined,
    adminToken: env.RUNNER_ADMIN_TOKEN || undefined,
    secretsKey: env.RUNNER_SECRETS_KEY || undefined,
    egressAllowPrivate: flag.parse(env.RUNNER_EGRESS_ALLOW_PRIVATE),
    writeTracking: env.RUNNER_WRITE_TRACKING || undefined,
    workerReads: env.RUNNER_WORKER_READS || undefined,
    hotWaitMs: env.RUNNER_HOT_WAIT_MS || String(HOT_WAIT_MS),
    cores,
    workers: flags.workers ?? env.RUNNER_WORKERS ?? String(cores),
    warmOnStart: env.RUNNER_WARM_ON_START ?? String(WARM_ON_START),
    maxTimeoutMs: env.RUNNER_MAX_TIMEOUT_MS ?? String(MAX_TIMEOUT_MS),
    defaultTimeoutMs: env.RUNNER_DEFAULT_TIMEOUT_MS ?? String(DEFAULT_LIMITS.timeoutMs),
    maxMemoryMb: env.RUNNER_MAX_MEMORY_MB ?? '1024',
    tenantConcurrency: env.RUNNER_TENANT_CONCURRENCY ?? '8',
    tenantQueue: env.RUNNER_TENANT_QUEUE ?? '32',
    globalQueue: env.RUNNER_GLOBAL_QUEUE ?? '1024',
    penaltyStrikes: env.RUNNER_PENALTY_STRIKES ?? String(DEFAULT_FAIRNESS.strikes),
    penaltyMs: env.RUNNER_PENALTY_MS ?? String(DEFAULT_FAIRNESS.penaltyMs),
    changeRecheckMs: env.RUNNER_CHANGE_RECHECK_MS ?? String(CHANGE_RECHECK_MS),
    changeListen: env.RUNNER_CHANGE_LISTEN || undefined,
    logTailPollMs: env.RUNNER_LOG_TAIL_POLL_MS ?? String(LOG_TAIL_POLL_MS),
    maxBodyBytes: env.RUNNER_MAX_BODY_BYTES ?? String(10 * 2 ** 20),
    idempotencyTtlMs: env.RUNNER_IDEMPOTENCY_TTL_MS ?? String(24 * 3600 * 1000),
    logLevel: env.LOG_LEVEL ?? 'info',
    tenantData: tenantDataUrl ? { kind: 'alga', baseUrl: tenantDataUrl, token: env.RUNNER_TENANT_DATA_TOKEN ?? '' } : { kind: 'store' },
    requireSignatures: flag.parse(env.RUNNER_REQUIRE_SIGNATURES),
    trustFile: env.RUNNER_TRUST_FILE || undefined,
    uiFrameAncestors: env.RUNNER_UI_FRAME_ANCESTORS ?? "'self'",
    devTenant: env.RUNNER_DEV_TENANT ?? 'demo',
  };
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `  - ${envNameOf(i.path.join('.'))}: ${i.message}`).join('\n');
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
  cores: 'RUNNER_CORES',
  workers: '--workers / RUNNER_WORKERS',
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
  penaltyStrikes: 'RUNNER_PENALTY_STRIKES',
  penaltyMs: 'RUNNER_PENALTY_MS',
  changeRecheckMs: 'RUNNER_CHANGE_RECHECK_MS',
  changeListen: 'RUNNER_CHANGE_LISTEN',
  logTailPollMs: 'RUNNER_LOG_TAIL_POLL_MS',
  maxBodyBytes: 'RUNNER_MAX_BODY_BYTES',
  idempotencyTtlMs: 'RUNNER_IDEMPOTENCY_TTL_MS',
  logLevel: 'LOG_LEVEL',
  'tenantData.baseUrl': 'RUNNER_TENANT_DATA_URL',
  'tenantData.token': 'RUNNER_TENANT_DATA_TOKEN',
  trustFile: 'RUNNER_TRUST_FILE',
};

function envNameOf(path: string): string {
  return ENV_NAMES[path] ?? path;
}

/** Loopback hosts may run without tokens (a generated one is printed); anything else may not. */
export function isLoopbackHost(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1';
}
