/**
 * The change feed: tells every process on the store which installs changed and whose log records
 * grew, so caches drop what they hold about an install and live log tails wake at once.
 *
 * - This process's own changes are told right after their commit (`ChangePublisher.committed`).
 * - PostgreSQL: an install change sends NOTIFY on the schema's channel inside its own transaction
 *   (PostgreSQL delivers it at commit, never for a rollback); every process LISTENs on a
 *   dedicated connection, opened again after it breaks — and then everything counts as changed,
 *   since notifications sent meanwhile are lost. A log append batch (logs.ts) notifies inside its
 *   own statement, once per install: it commits with synchronous_commit=off, so PostgreSQL's
 *   cluster-wide notify lock, held through a commit, is not held across a WAL flush.
 * - Backstop for a notification lost any other way: every install change also bumps one counter
 *   row (`change_feed.generation`) in its transaction. Notifications carry the new value, so a
 *   gap is noticed at the next one; and the row is read every `recheckMs` — a value this process
 *   has not seen means everything changed.
 * - A replace of a tenant's clients or services is published like an install change (counter and
 *   NOTIFY in its transaction), naming the tenant.
 * - Storage writes (kv-postgres.ts) NOTIFY inside their batch's transaction, naming each install
 *   the batch wrote and the process that wrote it (`notice`); the writer ignores its own.
 *   They bump no counter (a counter row would serialize every replica's writes): a reader that
 *   cannot be sure it hears them — the LISTEN connection down — must not trust what it cached
 *   (kv-read-cache.ts asks `stats.listening`).
 * - SQLite serves one process: its own changes are all there is (the counter is checked anyway).
 */
import { createHash, randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { sql, type Kysely, type QueryExecutorProvider } from 'kysely';
import pg from 'pg';
import type { Database } from './database.js';
import type { StoreDialect } from './dialect.js';

export type Change =
  | { readonly kind: 'install'; readonly installId: string }
  | { readonly kind: 'logs'; readonly installId: string }
  /** another process wrote the install's storage */
  | { readonly kind: 'storage'; readonly installId: string }
  /** a tenant's clients or services were replaced */
  | { readonly kind: 'tenant-data'; readonly tenantId: string }
  /** notifications may have been missed: whatever is cached about any install may be stale */
  | { readonly kind: 'everything'; readonly reason: 'reconnected' | 'missed' | 'recheck-failed' };

export interface ChangeFeedStats {
  /** notifications received over LISTEN */
  notifications: number;
  /** `everything` changes told (reconnects, missed generations, failed re-checks) */
  resyncs: number;
  /** times the LISTEN connection was opened again after it broke */
  reconnects: number;
  /** the LISTEN connection is open now */
  listening: boolean;
}

export interface ChangeFeedStart {
  /** how often the counter row is read (ms); the bound on a change whose notification was lost */
  readonly recheckMs: number;
  /** PostgreSQL: LISTEN for other processes' changes (default true; false leaves only the re-check) */
  readonly listen?: boolean;
  /** the LISTEN connection broke (it is opened again by itself) */
  readonly onListenError?: (error: Error) => void;
}

export interface ChangeFeed {
  /** Listen to changes; returns the unsubscribe function. */
  subscribe(listener: (change: Change) => void): () => void;
  /** Hear other processes' changes (PostgreSQL LISTEN) and start the periodic re-check. */
  start(options: ChangeFeedStart): Promise<void>;
  readonly stats: Readonly<ChangeFeedStats>;
  close(): Promise<void>;
}

/** A change as its publisher tells it after the commit. */
export type PublishedChange =
  | { readonly kind: 'install'; readonly installId: string; readonly generation: number }
  | { readonly kind: 'tenant-data'; readonly tenantId: string; readonly generation: number }
  /** told here only: the append's own statement notified the other processes (`notice`) */
  | { readonly kind: 'logs'; readonly installId: string };

/** How the store's modules publish a change. */
export interface ChangePublisher {
  /** Inside the changing transaction: bump the counter, NOTIFY (PostgreSQL). Returns the new generation. */
  installChanged(trx: Kysely<Database>, installId: string): Promise<number>;
  /** The same for a replace of a tenant's clients or services (tenant-data.ts). */
  tenantDataChanged(trx: QueryExecutorProvider, tenantId: string): Promise<number>;
  /** After the transaction committed: tell this process (and, for logs, the others). */
  committed(change: PublishedChange): void;
  /**
   * PostgreSQL: the channel that statements notify on inside their own transaction — storage write
   * batches (`s:<origin>:<install id>`, `origin` naming this process) and log appends
   * (`l:<install id>`); null on SQLite
   */
  readonly notice: { readonly channel: string; readonly origin: string } | null;
}

/** The NOTIFY channel of a schema (channel names are at most 63 bytes). */
export function changeChannel(schema: string): string {
  const name = `alga_runner.${schema}`;
  return name.length <= 63 ? name : `alga_runner.${createHash('sha256').update(schema).digest('hex').slice(0, 40)}`;
}

const RECONNECT_MIN_MS = 50;
const RECONNECT_MAX_MS = 2_000;

export interface ChangeFeedOptions {
  readonly dialect: StoreDialect;
  readonly db: Kysely<Database>;
  /** PostgreSQL: where to open the LISTEN connection, and the schema whose channel to use */
  readonly postgres?: { readonly url: string; readonly schema: string };
}

export function createChangeFeed(options: ChangeFeedOptions): ChangeFeed & ChangePublisher {
  return new StoreChangeFeed(options);
}

class StoreChangeFeed implements ChangeFeed, ChangePublisher {
  private readonly emitter = new EventEmitter();
  readonly stats: ChangeFeedStats = { notifications: 0, resyncs: 0, reconnects: 0, listening: false };
  /** the highest generation this process knows it has heard every change up to */
  private generation: number | null = null;
  private client: pg.Client | null = null;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private reconnectDelay = RECONNECT_MIN_MS;
  private recheckTimer: NodeJS.Timeout | null = null;
  private rechecking = false;
  private recheckFailing = false;
  private closing = false;
  private onListenError: ((error: Error) => void) | undefined;
  private readonly channel: string | null;
  readonly notice: { readonly channel: string; readonly origin: string } | null;

  constructor(private readonly options: ChangeFeedOptions) {
    this.emitter.setMaxListeners(0);
    this.channel = options.postgres ? changeChannel(options.postgres.schema) : null;
    this.notice = this.channel === null ? null : { channel: this.channel, origin: randomUUID() };
  }

  subscribe(listener: (change: Change) => void): () => void {
    this.emitter.on('change', listener);
    return () => this.emitter.off('change', listener);
  }

  private tell(change: Change): void {
    if (change.kind === 'everything') this.stats.resyncs++;
    this.emitter.emit('change', change);
  }

  /**
   * A change numbered `generation` was heard: a gap before it means some were missed. One numbered
   * at or below what this process knows was told already — this process's own, told at its commit,
   * arriving again over LISTEN — or was covered by the "everything" its gap told.
   */
  private heard(change: Extract<Change, { kind: 'install' | 'tenant-data' }>, generation: number): void {
    const known = this.generation;
    if (known !== null && generation <= known) return;
    this.generation = generation;
    if (known !== null && generation > known + 1) this.tell({ kind: 'everything', reason: 'missed' });
    else this.tell(change);
  }

  installChanged(trx: Kysely<Database>, installId: string): Promise<number> {
    return this.bump(trx, 'i', installId);
  }

  tenantDataChanged(trx: QueryExecutorProvider, tenantId: string): Promise<number> {
    return this.bump(trx, 't', tenantId);
  }

  /** Bump the counter in the changing transaction; PostgreSQL: NOTIFY `<tag>:<generation>:<id>`, delivered at its commit. */
  private async bump(trx: QueryExecutorProvider, tag: 'i' | 't', id: string): Promise<number> {
    if (this.channel === null) {
      const { rows } = await sql<{ generation: number }>`update change_feed set generation = generation + 1 where id = 1 returning generation`.execute(trx);
      return Number(rows[0]!.generation);
    }
    const { rows } = await sql<{ generation: number }>`
      with bumped as (update change_feed set generation = generation + 1 where id = 1 returning generation)
      select generation, pg_notify(${this.channel}, ${tag} || ':' || generation || ':' || ${id}) from bumped`.execute(trx);
    return Number(rows[0]!.generation);
  }

  committed(change: PublishedChange): void {
    if (change.kind === 'install') {
      this.heard({ kind: 'install', installId: change.installId }, change.generation);
      return;
    }
    if (change.kind === 'tenant-data') {
      this.heard({ kind: 'tenant-data', tenantId: change.tenantId }, change.generation);
      return;
    }
    this.tell({ kind: 'logs', installId: change.installId });
  }

  async start(start: ChangeFeedStart): Promise<void> {
    this.onListenError = start.onListenError;
    this.generation = await this.readGeneration();
    if (this.options.postgres && start.listen !== false) {
      try {
        await this.listen();
      } catch (e) {
        this.lost(null, e as Error);
      }
    }
    this.recheckTimer = setInterval(() => void this.recheck(), start.recheckMs);
    this.recheckTimer.unref();
  }

  private async readGeneration(): Promise<number> {
    const row = await this.options.db.selectFrom('change_feed').select('generation').where('id', '=', 1).executeTakeFirstOrThrow();
    return Number(row.generation);
  }

  /** The backstop: a generation not heard of means a notification was lost. */
  private async recheck(): Promise<void> {
    if (this.rechecking || this.closing) return;
    this.rechecking = true;
    try {
      const current = await this.readGeneration();
      this.recheckFailing = false;
      if (this.generation === null || current > this.generation) {
        this.generation = current;
        this.tell({ kind: 'everything', reason: 'missed' });
      }
    } catch {
      // cannot confirm what is cached: drop it (requests meanwhile meet the database's own state)
      if (!this.recheckFailing) this.tell({ kind: 'everything', reason: 'recheck-failed' });
      this.recheckFailing = true;
    } finally {
      this.rechecking = false;
    }
  }

  /** The LISTEN connection is named for this process and schema (pg_stat_activity.application_name), so an operator can find it. */
  private async listen(): Promise<void> {
    const { url, schema } = this.options.postgres!;
    const client = new pg.Client({ connectionString: url, keepAlive: true, connectionTimeoutMillis: 10_000, application_name: `alga-runner feed ${process.pid} ${schema}`.slice(0, 63) });
    client.on('notification', (msg) => this.onNotification(msg));
    client.on('error', (e) => this.lost(client, e));
    client.on('end', () => this.lost(client, new Error('the LISTEN connection ended')));
    try {
      await client.connect();
      await client.query(`LISTEN "${this.channel!.replace(/"/g, '""')}"`);
    } catch (e) {
      client.removeAllListeners('end');
      client.on('error', () => {});
      await client.end().catch(() => undefined);
      throw e;
    }
    if (this.closing) {
      await client.end().catch(() => undefined);
      return;
    }
    this.client = client;
    this.stats.listening = true;
  }

  private onNotification(msg: pg.Notification): void {
    if (msg.channel !== this.channel || msg.payload === undefined) return;
    this.stats.notifications++;
    const payload = msg.payload;
    if (payload.startsWith('l:')) {
      this.tell({ kind: 'logs', installId: payload.slice(2) });
    } else if (payload.startsWith('s:')) {
      const sep = payload.indexOf(':', 2);
      if (sep > 0 && payload.slice(2, sep) !== this.notice?.origin) this.tell({ kind: 'storage', installId: payload.slice(sep + 1) });
    } else if (payload.startsWith('i:') || payload.startsWith('t:')) {
      const sep = payload.indexOf(':', 2);
      const generation = Number(payload.slice(2, sep));
      if (sep < 0 || !Number.isSafeInteger(generation)) return;
      const id = payload.slice(sep + 1);
      this.heard(payload.startsWith('i:') ? { kind: 'install', installId: id } : { kind: 'tenant-data', tenantId: id }, generation);
    }
  }

  /** The LISTEN connection broke (or never opened): open it again, then resynchronise. */
  private lost(client: pg.Client | null, error: Error): void {
    if (this.closing || (client !== null && client !== this.client)) return;
    if (client) {
      this.client = null;
      this.stats.listening = false;
      client.removeAllListeners('end');
      client.on('error', () => {});
      void client.end().catch(() => undefined);
    }
    this.onListenError?.(error);
    if (this.reconnectTimer) return;
    this.reconnectTimer = setTimeout(() => void this.reconnect(), this.reconnectDelay);
    this.reconnectTimer.unref();
  }

  private async reconnect(): Promise<void> {
    this.reconnectTimer = null;
    if (this.closing) return;
    try {
      await this.listen();
    } catch (e) {
      this.reconnectDelay = Math.min(this.reconnectDelay * 2, RECONNECT_MAX_MS);
      this.lost(null, e as Error);
      return;
    }
    this.reconnectDelay = RECONNECT_MIN_MS;
    this.stats.reconnects++;
    // listening again: whatever changed while it was not is caught by treating everything as changed
    this.generation = await this.readGeneration().catch(() => this.generation);
    this.tell({ kind: 'everything', reason: 'reconnected' });
  }

  async close(): Promise<void> {
    this.closing = true;
    if (this.recheckTimer) clearInterval(this.recheckTimer);
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    const client = this.client;
    this.client = null;
    this.stats.listening = false;
    if (client) {
      client.removeAllListeners('end');
      client.on('error', () => {});
      await client.end().catch(() => undefined);
    }
    this.emitter.removeAllListeners();
  }
}
