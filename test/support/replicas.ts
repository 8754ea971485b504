/**
 * Several real runner processes (`alga-runner serve`) sharing one PostgreSQL schema, each with its
 * own data directory — the way an operator runs replicas behind a load balancer. Each replica is
 * a child process on its own port; tests upload through one, execute through others, kill or stop
 * any of them and start it again on the same data directory.
 *
 * PostgreSQL comes from TEST_DATABASE_URL (support/postgres.ts): with CI=true an unreachable
 * server fails the test; locally it is skipped with the reason (`replicaSkipReason`).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { SECRETS_KEY, seedArtifacts } from '../service/harness.js';
import { cleanEnv, startCli, type CliProcess } from '../service/cli-process.js';
import { TEST_DATABASE_URL, postgresSkipReason } from './postgres.js';

export const REPLICA_SERVICE_TOKEN = 'replica-service-token-0123456789';
export const REPLICA_ADMIN_TOKEN = 'replica-admin-token-0123456789';

/** false when the replicas can run (PostgreSQL answers); else why not. Throws under CI=true. */
export const replicaSkipReason = postgresSkipReason;

export interface Replica {
  readonly index: number;
  /** the current process's base URL (changes when the replica is started again) */
  readonly url: string;
  readonly serviceToken: string;
  readonly adminToken: string;
  readonly dataDir: string;
  /** the current process */
  readonly process: CliProcess;
  /** SIGTERM (graceful: drains), then the exit code */
  stop(): Promise<number | null>;
  /** SIGKILL: no drain, no cleanup — a crash */
  kill(): Promise<void>;
  /** a new process on the same data directory and settings (after stop or kill) */
  start(): Promise<void>;
}

export interface ClusterOptions {
  /** how many replicas start at once (more can be added with `add`) */
  readonly replicas: number;
  /** environment for every replica (RUNNER_* settings); the schema, tokens and secrets key are set */
  readonly env?: Record<string, string>;
  /** environment of one replica, by index, on top of `env` */
  readonly envOf?: (index: number) => Record<string, string>;
  /** guest workers per replica (default 1) */
  readonly workers?: number;
  /** LOG_LEVEL of the replicas (default info: tests wait for log lines) */
  readonly logLevel?: string;
  /**
   * example guests whose prepared artifacts are copied into each replica's data directory before
   * it starts (saves transpiling in tests about something else; never in tests about getting
   * components to replicas, where it would hide the very problem)
   */
  readonly seed?: readonly string[];
}

export interface Cluster {
  readonly replicas: Replica[];
  /** the PostgreSQL schema they share */
  readonly schema: string;
  readonly databaseUrl: string;
  /** one more replica on the same database */
  add(env?: Record<string, string>): Promise<Replica>;
  /** a client on the shared schema, for checks behind the runner's back (rows left, say) */
  query<T extends pg.QueryResultRow = Record<string, unknown>>(text: string, values?: unknown[]): Promise<T[]>;
  /** stops every replica (SIGTERM, then SIGKILL after 20 s), drops the schema, removes the data directories */
  close(): Promise<void>;
}

export async function startCluster(options: ClusterOptions): Promise<Cluster> {
  const schema = `replicas_${process.pid}_${randomBytes(4).toString('hex')}`;
  const replicas: Replica[] = [];
  const dirs: string[] = [];
  const admin = new pg.Pool({ connectionString: TEST_DATABASE_URL, max: 2, options: `-c search_path=${schema}` });

  let count = 0;
  /** every process started, so a failed start leaves none running */
  const launched: CliProcess[] = [];
  const add = async (extra: Record<string, string> = {}): Promise<Replica> => {
    const index = count++;
    const dataDir = mkdtempSync(join(tmpdir(), `replica-${index}-`));
    dirs.push(dataDir);
    if (options.seed?.length) await seedArtifacts(dataDir, options.seed);
    const env = cleanEnv({
      RUNNER_DATABASE_SCHEMA: schema,
      RUNNER_SERVICE_TOKEN: REPLICA_SERVICE_TOKEN,
      RUNNER_ADMIN_TOKEN: REPLICA_ADMIN_TOKEN,
      RUNNER_SECRETS_KEY: SECRETS_KEY,
      RUNNER_EGRESS_ALLOW_PRIVATE: '1',
      // stop() closes at once unless a test sets a drain delay
      RUNNER_DRAIN_DELAY_MS: '0',
      LOG_LEVEL: options.logLevel ?? 'info',
      ...options.env,
      ...options.envOf?.(index),
      ...extra,
    });
    const args = ['serve', '--port', '0', '--data-dir', dataDir, '--database-url', TEST_DATABASE_URL, '--workers', String(options.workers ?? 1)];
    let current: CliProcess;
    let url = '';
    const launch = async () => {
      current = startCli(args, env);
      launched.push(current);
      url = (await current.line(/alga-runner listening on (http:\/\/\S+)$/))[1]!;
    };
    await launch();
    const replica: Replica = {
      index,
      get url() {
        return url;
      },
      serviceToken: REPLICA_SERVICE_TOKEN,
      adminToken: REPLICA_ADMIN_TOKEN,
      dataDir,
      get process() {
        return current;
      },
      stop: () => current.stop(),
      async kill() {
        if (current.child.exitCode !== null || current.child.signalCode !== null) return;
        const exited = new Promise<void>((resolve) => current.child.once('exit', () => resolve()));
        current.child.kill('SIGKILL');
        await exited;
      },
      start: launch,
    };
    replicas[index] = replica;
    return replica;
  };

  // the first creates the schema and runs the migrations; the others start together after it
  const first = await Promise.allSettled([add()]);
  const started = first[0]!.status === 'fulfilled' ? [...first, ...(await Promise.allSettled(Array.from({ length: options.replicas - 1 }, () => add())))] : first;
  const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) {
    // every launch has settled: none is left running to hold the test process open
    for (const p of launched) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    await admin.query(`drop schema if exists "${schema}" cascade`).catch(() => undefined);
    await admin.end();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
    throw failed.reason;
  }

  return {
    replicas,
    schema,
    databaseUrl: TEST_DATABASE_URL,
    add,
    async query(text, values) {
      return (await admin.query(text, values)).rows;
    },
    async close() {
      await Promise.all(
        replicas.map(async (r) => {
          const timer = setTimeout(() => void r.kill(), 20_000);
          try {
            await r.stop();
          } finally {
            clearTimeout(timer);
          }
        }),
      );
      await admin.query(`drop schema if exists "${schema}" cascade`).catch(() => undefined);
      await admin.end();
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
    },
  };
}
