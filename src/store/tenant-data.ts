/**
 * The embedded tenant-data backend: clients and services kept in the runner's own store
 * (tables of migration 050), read tenant-scoped by the clients/services capabilities and
 * replaced wholesale by the admin API.
 *
 * Every query names the tenant: the scope's tenant for reads, the admin route's tenant for writes.
 * Sorting and search go through `name_key` / `*_key` columns folded in TypeScript (see
 * `foldForMatching` and the migration), so both SQL backends give identical answers.
 */
import { sql, type Compilable, type Kysely, type Transaction } from 'kysely';
import { dialectOf } from './dialect.js';
import {
  failed,
  parseClientsListInput,
  parseRecordId,
  parseServicesListInput,
  succeeded,
  type ClientSummary,
  type ClientsListInput,
  type ListResult,
  type ServiceBillingMethod,
  type ServiceItemKind,
  type ServiceSummary,
  type ServicesListInput,
  type TenantDataBackend,
  type TenantDataResult,
} from './tenant-data-model.js';
import type { PreparedRead, SqliteReader, ReadOnlyStoreFile } from './sqlite-reader.js';
import type { ChangePublisher } from './change-feed.js';
import type { TenantDataReadCache } from './tenant-data-cache.js';

interface TenantClientsTable {
  tenant: string;
  client_id: string;
  client_name: string;
  client_type: string | null;
  is_inactive: number;
  default_currency_code: string | null;
  account_manager_id: string | null;
  account_manager_name: string | null;
  billing_email: string | null;
  name_key: string;
  billing_email_key: string | null;
}

interface TenantServicesTable {
  tenant: string;
  service_id: string;
  service_name: string;
  item_kind: ServiceItemKind;
  billing_method: ServiceBillingMethod;
  service_type_id: string | null;
  service_type_name: string | null;
  default_rate: number;
  unit_of_measure: string;
  is_active: number;
  sku: string | null;
  name_key: string;
  sku_key: string | null;
}

interface TenantDataTables {
  tenant_clients: TenantClientsTable;
  tenant_services: TenantServicesTable;
}

/** The store backend plus the writes only the admin API and demo seeding use. */
export interface StoreTenantData extends TenantDataBackend {
  readonly readOnlyFile: ReadOnlyStoreFile | null;
  /** Replace all of a tenant's clients atomically (items already validated, ids unique). */
  replaceClients(tenantId: string, items: readonly ClientSummary[]): Promise<void>;
  /** Replace all of a tenant's services atomically (items already validated, ids unique). */
  replaceServices(tenantId: string, items: readonly ServiceSummary[]): Promise<void>;
  /** How many clients and services a tenant has (all of them, active or not). */
  countTenantData(tenantId: string): Promise<{ clients: number; services: number }>;
}

/**
 * Case- and accent-insensitive form of a text, for sorting and substring search:
 * lower case, compatibility-decomposed, combining marks removed ("Café Ltd" → "cafe ltd").
 */
export function foldForMatching(text: string): string {
  return text.toLowerCase().normalize('NFKD').replace(/\p{M}/gu, '');
}

const foldOptional = (text: string | undefined): string | null => (text === undefined ? null : foldForMatching(text));

/** `%term%` with LIKE's own wildcards in the term taken literally (used with ESCAPE '\'). */
function containsPattern(search: string): string {
  return `%${foldForMatching(search).replace(/[\\%_]/g, '\\$&')}%`;
}

const likeEscaped = (column: string, pattern: string) => sql<boolean>`${sql.ref(column)} like ${pattern} escape '\\'`;

/** Rows per INSERT: well under SQLite's and PostgreSQL's bound-parameter limits. */
const INSERT_CHUNK = 500;

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

const orUndefined = (v: string | null): string | undefined => v ?? undefined;

const clientColumns = ['client_id', 'client_name', 'client_type', 'is_inactive', 'default_currency_code', 'account_manager_id', 'account_manager_name', 'billing_email'] as const;

const serviceColumns = ['service_id', 'service_name', 'item_kind', 'billing_method', 'service_type_id', 'service_type_name', 'default_rate', 'unit_of_measure', 'is_active', 'sku'] as const;

type ClientRow = Pick<TenantClientsTable, (typeof clientColumns)[number]>;
type ServiceRow = Pick<TenantServicesTable, (typeof serviceColumns)[number]>;

function clientFromRow(r: ClientRow): ClientSummary {
  return {
    clientId: r.client_id,
    clientName: r.client_name,
    clientType: orUndefined(r.client_type),
    isInactive: Number(r.is_inactive) === 1,
    defaultCurrencyCode: orUndefined(r.default_currency_code),
    accountManagerId: orUndefined(r.account_manager_id),
    accountManagerName: orUndefined(r.account_manager_name),
    billingEmail: orUndefined(r.billing_email),
  };
}

function serviceFromRow(r: ServiceRow): ServiceSummary {
  return {
    serviceId: r.service_id,
    serviceName: r.service_name,
    itemKind: r.item_kind,
    billingMethod: r.billing_method,
    serviceTypeId: orUndefined(r.service_type_id),
    serviceTypeName: orUndefined(r.service_type_name),
    defaultRate: Number(r.default_rate),
    unitOfMeasure: r.unit_of_measure,
    isActive: Number(r.is_active) === 1,
    sku: orUndefined(r.sku),
  };
}

function clientToRow(tenant: string, c: ClientSummary): TenantClientsTable {
  return {
    tenant,
    client_id: c.clientId,
    client_name: c.clientName,
    client_type: c.clientType ?? null,
    is_inactive: c.isInactive ? 1 : 0,
    default_currency_code: c.defaultCurrencyCode ?? null,
    account_manager_id: c.accountManagerId ?? null,
    account_manager_name: c.accountManagerName ?? null,
    billing_email: c.billingEmail ?? null,
    name_key: foldForMatching(c.clientName),
    billing_email_key: foldOptional(c.billingEmail),
  };
}

function serviceToRow(tenant: string, s: ServiceSummary): TenantServicesTable {
  return {
    tenant,
    service_id: s.serviceId,
    service_name: s.serviceName,
    item_kind: s.itemKind,
    billing_method: s.billingMethod,
    service_type_id: s.serviceTypeId ?? null,
    service_type_name: s.serviceTypeName ?? null,
    default_rate: s.defaultRate,
    unit_of_measure: s.unitOfMeasure,
    is_active: s.isActive ? 1 : 0,
    sku: s.sku ?? null,
    name_key: foldForMatching(s.serviceName),
    sku_key: foldOptional(s.sku),
  };
}

/** A database failure is an expected operational error for the guest (`internal`), not a crash. */
async function guarded<T>(what: string, work: () => Promise<T>): Promise<TenantDataResult<T>> {
  try {
    return succeeded(await work());
  } catch (error) {
    return failedWith(what, error);
  }
}

function guardedSync<T>(what: string, work: () => T): TenantDataResult<T> {
  try {
    return succeeded(work());
  } catch (error) {
    return failedWith(what, error);
  }
}

const failedWith = (what: string, error: unknown) => failed('internal', `${what} failed: ${error instanceof Error ? error.message : String(error)}`);

type TenantDb = Kysely<TenantDataTables>;
type ClientsQuery = Extract<ReturnType<typeof parseClientsListInput>, { ok: true }>['value'];
type ServicesQuery = Extract<ReturnType<typeof parseServicesListInput>, { ok: true }>['value'];

// The reads, as queries: the store runs them here, a guest worker compiles the same ones for its
// own read-only connection (createTenantDataReader, sqlite-reader.ts).

/** What a client list matches, with the search already a LIKE pattern (a parameter of the statement). */
interface ClientFilter {
  readonly pattern: string | undefined;
  readonly includeInactive: boolean;
}

/** What a service list matches (isActive is part of the statement's shape, the others are parameters). */
interface ServiceFilter {
  readonly pattern: string | undefined;
  readonly itemKind: ServicesQuery['itemKind'];
  readonly isActive: boolean | undefined;
  readonly billingMethod: ServicesQuery['billingMethod'];
}

const patternOf = (search: string | undefined) => (search === undefined ? undefined : containsPattern(search));

function clientMatches(db: TenantDb, tenantId: string, { pattern, includeInactive }: ClientFilter) {
  let matches = db.selectFrom('tenant_clients').where('tenant', '=', tenantId);
  if (!includeInactive) matches = matches.where('is_inactive', '=', 0);
  if (pattern !== undefined) matches = matches.where((eb) => eb.or([likeEscaped('name_key', pattern), likeEscaped('billing_email_key', pattern)]));
  return matches;
}

const clientCount = (db: TenantDb, tenantId: string, f: ClientFilter) => clientMatches(db, tenantId, f).select((eb) => eb.fn.countAll().as('n'));

const clientPage = (db: TenantDb, tenantId: string, f: ClientFilter, limit: number, offset: number) =>
  clientMatches(db, tenantId, f).select(clientColumns).orderBy('name_key').orderBy('client_id').limit(limit).offset(offset);

const clientById = (db: TenantDb, tenantId: string, clientId: string) => db.selectFrom('tenant_clients').select(clientColumns).where('tenant', '=', tenantId).where('client_id', '=', clientId);

function serviceMatches(db: TenantDb, tenantId: string, { pattern, itemKind, isActive, billingMethod }: ServiceFilter) {
  let matches = db.selectFrom('tenant_services').where('tenant', '=', tenantId);
  if (itemKind !== undefined) matches = matches.where('item_kind', '=', itemKind);
  if (isActive !== undefined) matches = matches.where('is_active', '=', isActive ? 1 : 0);
  if (billingMethod !== undefined) matches = matches.where('billing_method', '=', billingMethod);
  if (pattern !== undefined) matches = matches.where((eb) => eb.or([likeEscaped('name_key', pattern), likeEscaped('sku_key', pattern)]));
  return matches;
}

const serviceCount = (db: TenantDb, tenantId: string, f: ServiceFilter) => serviceMatches(db, tenantId, f).select((eb) => eb.fn.countAll().as('n'));

const servicePage = (db: TenantDb, tenantId: string, f: ServiceFilter, limit: number, offset: number) =>
  serviceMatches(db, tenantId, f).select(serviceColumns).orderBy('name_key').orderBy('service_id').limit(limit).offset(offset);

const serviceById = (db: TenantDb, tenantId: string, serviceId: string) => db.selectFrom('tenant_services').select(serviceColumns).where('tenant', '=', tenantId).where('service_id', '=', serviceId);

type Paging = { page: number; pageSize: number };

const listResult = <R, T>(rows: R[], toItem: (r: R) => T, count: { n: string | number | bigint } | undefined, q: Paging): ListResult<T> => ({
  items: rows.map(toItem),
  totalCount: Number(count?.n ?? 0),
  page: q.page,
  pageSize: q.pageSize,
});

/** A kysely select both sides can use: the store executes it, a worker compiles it. */
type Read<Row> = Compilable<Row> & { execute(): Promise<Row[]>; executeTakeFirst(): Promise<Row | undefined> };

/**
 * A filter as one prepared statement sees it: `key` names the statement (what is baked into it),
 * `values` are its parameters in order, `template` rebuilds the filter from those parameters.
 */
interface FilterShape<Filter> {
  readonly key: string;
  readonly values: readonly unknown[];
  template(values: readonly unknown[]): Filter;
}

/**
 * The reads of one kind of tenant record (clients, services), described once for the store's
 * asynchronous functions and a worker's synchronous ones.
 */
interface RecordReads<Input, Query extends Paging, Filter, Row, Item> {
  /** for error messages: "listing clients", "reading a client" */
  readonly listing: string;
  readonly reading: string;
  readonly idOf: 'client' | 'service';
  parseList(input: Input): TenantDataResult<Query>;
  filterOf(q: Query): Filter;
  shapeOf(f: Filter): FilterShape<Filter>;
  count(db: TenantDb, tenantId: string, f: Filter): Read<{ n: string | number | bigint }>;
  /** the page with the count beside each row: one statement (one round trip, one snapshot) */
  countedPage(db: TenantDb, tenantId: string, f: Filter, limit: number, offset: number): Read<Row & { total_count: string | number | bigint | null }>;
  byId(db: TenantDb, tenantId: string, id: string): Read<Row>;
  fromRow(row: Row): Item;
}

const recordReads = <I, Q extends Paging, F, R, T>(reads: RecordReads<I, Q, F, R, T>) => reads;

/** The present ones of `fields` (in order) as parameters; the absent ones are part of the shape. */
function shapeOfFields<F extends object>(f: F, fields: readonly (keyof F)[], baked: string): FilterShape<F> {
  const present = fields.filter((k) => f[k] !== undefined);
  return {
    key: `${baked}|${present.join(',')}`,
    values: present.map((k) => f[k]),
    template: (values) => ({ ...f, ...Object.fromEntries(present.map((k, i) => [k, values[i]])) }),
  };
}

const CLIENT_READS = recordReads({
  listing: 'listing clients',
  reading: 'reading a client',
  idOf: 'client',
  parseList: (input: ClientsListInput) => parseClientsListInput(input),
  filterOf: (q: ClientsQuery): ClientFilter => ({ pattern: patternOf(q.search), includeInactive: q.includeInactive }),
  shapeOf: (f: ClientFilter) => shapeOfFields(f, ['pattern'], `inactive=${f.includeInactive}`),
  count: clientCount,
  countedPage: (db: TenantDb, tenantId: string, f: ClientFilter, limit: number, offset: number) => clientPage(db, tenantId, f, limit, offset).select(clientCount(db, tenantId, f).as('total_count')),
  byId: clientById,
  fromRow: clientFromRow,
});

const SERVICE_READS = recordReads({
  listing: 'listing services',
  reading: 'reading a service',
  idOf: 'service',
  parseList: (input: ServicesListInput) => parseServicesListInput(input),
  filterOf: (q: ServicesQuery): ServiceFilter => ({ pattern: patternOf(q.search), itemKind: q.itemKind, isActive: q.isActive, billingMethod: q.billingMethod }),
  shapeOf: (f: ServiceFilter) => shapeOfFields(f, ['pattern', 'itemKind', 'billingMethod'], `active=${String(f.isActive)}`),
  count: serviceCount,
  countedPage: (db: TenantDb, tenantId: string, f: ServiceFilter, limit: number, offset: number) => servicePage(db, tenantId, f, limit, offset).select(serviceCount(db, tenantId, f).as('total_count')),
  byId: serviceById,
  fromRow: serviceFromRow,
});

const pagingOf = (q: Paging) => ({ limit: q.pageSize, offset: (q.page - 1) * q.pageSize });

function storeReads<I, Q extends Paging, F, R, T>(reads: RecordReads<I, Q, F, R, T>, db: TenantDb) {
  return {
    async list(tenantId: string, input: I): Promise<TenantDataResult<ListResult<T>>> {
      const query = reads.parseList(input);
      if (!query.ok) return query;
      const filter = reads.filterOf(query.value);
      const { limit, offset } = pagingOf(query.value);
      return guarded(reads.listing, async () => {
        // one round trip: the count rides on the page's rows; only a page past the end (no rows to carry it) asks again
        const rows = await reads.countedPage(db, tenantId, filter, limit, offset).execute();
        const counted = rows[0] ? { n: rows[0].total_count ?? 0 } : query.value.page === 1 ? { n: 0 } : await reads.count(db, tenantId, filter).executeTakeFirst();
        return listResult(rows, reads.fromRow, counted, query.value);
      });
    },
    async get(tenantId: string, recordId: string): Promise<TenantDataResult<T | undefined>> {
      const id = parseRecordId(recordId, reads.idOf);
      if (!id.ok) return id;
      return guarded(reads.reading, async () => {
        const row = await reads.byId(db, tenantId, id.value).executeTakeFirst();
        return row ? reads.fromRow(row) : undefined;
      });
    },
  };
}

/** Most list statements a worker keeps prepared per kind of record (one per filter shape). */
const LIST_SHAPES_KEPT = 32;

function workerReads<I, Q extends Paging, F, R, T>(reads: RecordReads<I, Q, F, R, T>, reader: SqliteReader) {
  const db = reader.db as unknown as TenantDb;
  // a read by id has one shape: compiled once (SqliteReader.prepare)
  const byId = reader.prepare((d, tenantId: string, id: string) => reads.byId(d as unknown as TenantDb, tenantId, id));
  // a list: one statement per filter shape, compiled on its first use (building it costs more than running it)
  type CountedRow = R & { total_count: string | number | bigint | null };
  const lists = new Map<string, PreparedRead<unknown[], CountedRow>>();
  const listStatement = (shape: FilterShape<F>) => {
    let statement = lists.get(shape.key);
    if (!statement) {
      if (lists.size >= LIST_SHAPES_KEPT) lists.delete(lists.keys().next().value!);
      statement = reader.prepare(
        (d, tenantId: string, limit: number, offset: number, ...values: unknown[]) => reads.countedPage(d as unknown as TenantDb, tenantId, shape.template(values), limit, offset),
        3 + shape.values.length,
      );
      lists.set(shape.key, statement);
    }
    return statement;
  };
  return {
    list(tenantId: string, input: I): TenantDataResult<ListResult<T>> {
      const query = reads.parseList(input);
      if (!query.ok) return query;
      const filter = reads.filterOf(query.value);
      const shape = reads.shapeOf(filter);
      const { limit, offset } = pagingOf(query.value);
      // one statement (its own snapshot): the count rides on the page's rows; a page past the end
      // asks again for both in one read transaction, so a replace between them cannot split the answer
      return guardedSync(reads.listing, () => {
        const page = () => listStatement(shape).all(tenantId, limit, offset, ...shape.values);
        const rows = page();
        if (rows[0] || query.value.page === 1) return listResult(rows, reads.fromRow, { n: rows[0]?.total_count ?? 0 }, query.value);
        return reader.snapshot(() => listResult(page(), reads.fromRow, reader.first(reads.count(db, tenantId, filter)), query.value));
      });
    },
    get(tenantId: string, recordId: string): TenantDataResult<T | undefined> {
      const id = parseRecordId(recordId, reads.idOf);
      if (!id.ok) return id;
      return guardedSync(reads.reading, () => {
        const row = byId.first(tenantId, id.value);
        return row ? reads.fromRow(row) : undefined;
      });
    },
  };
}

/** The reads of TenantDataBackend, synchronous, over a worker's read-only SQLite connection; the tenant is the execution's. */
export interface TenantDataReader {
  listClients(tenantId: string, input: ClientsListInput): TenantDataResult<ListResult<ClientSummary>>;
  getClient(tenantId: string, clientId: string): TenantDataResult<ClientSummary | undefined>;
  listServices(tenantId: string, input: ServicesListInput): TenantDataResult<ListResult<ServiceSummary>>;
  getService(tenantId: string, serviceId: string): TenantDataResult<ServiceSummary | undefined>;
}

export function createTenantDataReader(reader: SqliteReader): TenantDataReader {
  const clients = workerReads(CLIENT_READS, reader);
  const services = workerReads(SERVICE_READS, reader);
  return { listClients: clients.list, getClient: clients.get, listServices: services.list, getService: services.get };
}

/** How the backend takes part in the store's change feed. */
export interface TenantDataFeed {
  /** a replace is published (change-feed.ts): every process's cache hears it. Every writer of a shared store must pass it. */
  readonly changes?: ChangePublisher | null;
  /** reads answered from what was read before, until a replace of the tenant is heard (tenant-data-cache.ts) */
  readonly cache?: TenantDataReadCache | null;
}

/**
 * Build the store backend over an open database (any table typing) on which migration 050 has run.
 * `readOnlyFile`: the store's, when guest workers may read tenant data from its file themselves;
 * `reader`: the store's main-thread read-only connection (Store.reader), for its reads.
 */
export function createStoreTenantData<DB>(database: Kysely<DB>, readOnlyFile: ReadOnlyStoreFile | null = null, reader: SqliteReader | null = null, feed: TenantDataFeed = {}): StoreTenantData {
  const { changes = null, cache = null } = feed;
  const db = database as unknown as TenantDb;
  const postgres = dialectOf(database as Kysely<unknown>) === 'postgres';
  // SQLite with the store's main-thread reader: the workers' synchronous reads (prepared or compiled on the spot, no awaits)
  const reads = <I, Q extends Paging, F, R, T>(r: RecordReads<I, Q, F, R, T>) => {
    if (!reader) return storeReads(r, db);
    const sync = workerReads(r, reader);
    return { list: async (tenantId: string, input: I) => sync.list(tenantId, input), get: async (tenantId: string, id: string) => sync.get(tenantId, id) };
  };
  const clients = cached('clients', reads(CLIENT_READS));
  const services = cached('services', reads(SERVICE_READS));

  /** The reads through the cache, when there is one; a question is its kind, and its input as given. */
  function cached<I, T>(kind: string, r: { list(tenantId: string, input: I): Promise<TenantDataResult<ListResult<T>>>; get(tenantId: string, id: string): Promise<TenantDataResult<T | undefined>> }) {
    if (!cache) return r;
    return {
      list: (tenantId: string, input: I) => cache.read(tenantId, `${kind} list ${JSON.stringify(input)}`, () => r.list(tenantId, input)),
      get: (tenantId: string, id: string) => cache.read(tenantId, `${kind} get ${JSON.stringify(id)}`, () => r.get(tenantId, id)),
    };
  }

  /** A replace in one transaction, published on the change feed at its commit. */
  async function replace(tenantId: string, work: (trx: Transaction<TenantDataTables>) => Promise<void>): Promise<void> {
    const generation = await db.transaction().execute(async (trx) => {
      await work(trx);
      return changes ? await changes.tenantDataChanged(trx, tenantId) : null;
    });
    if (changes && generation !== null) changes.committed({ kind: 'tenant-data', tenantId, generation });
  }

  /**
   * Two replaces of one tenant's table at once would, on PostgreSQL, each delete the old rows and
   * then collide on the primary key inserting the new ones; a transaction-scoped advisory lock
   * makes the second wait for the first instead. (SQLite runs one write transaction at a time.)
   */
  async function serializeReplace(trx: Transaction<TenantDataTables>, table: keyof TenantDataTables, tenantId: string): Promise<void> {
    if (postgres) await sql`select pg_advisory_xact_lock(hashtext(${`${table}:${tenantId}`}))`.execute(trx);
  }

  return {
    readOnlyFile,

    listClients: (scope, input) => clients.list(scope.tenantId, input),
    getClient: (scope, clientId) => clients.get(scope.tenantId, clientId),
    listServices: (scope, input) => services.list(scope.tenantId, input),
    getService: (scope, serviceId) => services.get(scope.tenantId, serviceId),

    async replaceClients(tenantId, items) {
      await replace(tenantId, async (trx) => {
        await serializeReplace(trx, 'tenant_clients', tenantId);
        await trx.deleteFrom('tenant_clients').where('tenant', '=', tenantId).execute();
        for (const chunk of chunks(items, INSERT_CHUNK)) {
          await trx
            .insertInto('tenant_clients')
            .values(chunk.map((c) => clientToRow(tenantId, c)))
            .execute();
        }
      });
    },

    async replaceServices(tenantId, items) {
      await replace(tenantId, async (trx) => {
        await serializeReplace(trx, 'tenant_services', tenantId);
        await trx.deleteFrom('tenant_services').where('tenant', '=', tenantId).execute();
        for (const chunk of chunks(items, INSERT_CHUNK)) {
          await trx
            .insertInto('tenant_services')
            .values(chunk.map((s) => serviceToRow(tenantId, s)))
            .execute();
        }
      });
    },

    async countTenantData(tenantId) {
      const [clients, services] = await Promise.all([
        db
          .selectFrom('tenant_clients')
          .select((eb) => eb.fn.countAll().as('n'))
          .where('tenant', '=', tenantId)
          .executeTakeFirstOrThrow(),
        db
          .selectFrom('tenant_services')
          .select((eb) => eb.fn.countAll().as('n'))
          .where('tenant', '=', tenantId)
          .executeTakeFirstOrThrow(),
      ]);
      return { clients: Number(clients.n), services: Number(services.n) };
    },
  };
}
