/**
 * The trivial work behind each `alga:extension` host function, shared by every system the
 * benchmark compares: the same Map-backed storage, fixed secrets, user and clients. The engine gets
 * it as capability modules (`createInMemoryRegistry`), the naive and floor baselines as jco import
 * objects (`jcoHostImports`), isolated-vm as callbacks — so the "in-memory" rows compare runtimes,
 * not backends. Like the real capabilities over SQLite, the engine's stand-ins answer reads in the
 * guest's worker under load where that is correct here: the fixed secrets, clients and services
 * (each worker has the same copy; nothing changes them). Storage stays on the main thread, whose
 * map is the only copy.
 */
import { CapabilityRegistry, type CapabilityCallObserver } from '../src/capabilities/registry.js';
import { defineCapability, err, ok, value, type Capability, type CapabilityFunction, type Delivery, type HostResult } from '../src/capabilities/capability.js';
import type { CreateWorkerFunctions } from '../src/contract/index.js';
import { createLoggingCapability } from '../src/capabilities/logging.js';

export interface ContextData {
  requestId: string | undefined;
  tenantId: string;
  extensionId: string;
  installId: string | undefined;
  versionId: string | undefined;
}

export interface StorageEntry {
  namespace: string;
  key: string;
  value: Uint8Array;
  revision: bigint | undefined;
}

/** A host answer before it is shaped for a particular runtime. */
export type Answer<T> = { ok: true; value: T } | { ok: false; code: string };

const CLIENT = {
  clientId: 'client-1',
  clientName: 'Bench Client',
  clientType: 'company',
  isInactive: false,
  defaultCurrencyCode: 'USD',
  accountManagerId: undefined,
  accountManagerName: undefined,
  billingEmail: 'billing@example.test',
};

const USER = {
  tenantId: 'tenant-bench',
  clientName: 'Bench Client',
  userId: 'user-1',
  userEmail: 'user@example.test',
  userName: 'Bench User',
  userType: 'internal',
  clientId: 'client-1',
  additionalFields: [] as [string, string][],
};

export class InMemoryBackend {
  private readonly kv = new Map<string, StorageEntry>();
  private readonly secrets = new Map<string, string>([['bench', 'bench-secret']]);
  logRecords = 0;

  context(ctx: ContextData): ContextData {
    // Object.assign, not a leading spread (see PoolJob.message in worker-pool.ts)
    return Object.assign({}, ctx);
  }

  storageGet(installId: string, namespace: string, key: string): Answer<StorageEntry> {
    const found = this.kv.get(`${installId}\u0000${namespace}\u0000${key}`);
    return found ? { ok: true, value: found } : { ok: false, code: 'missing' };
  }

  storagePut(installId: string, entry: StorageEntry): Answer<StorageEntry> {
    const id = `${installId}\u0000${entry.namespace}\u0000${entry.key}`;
    const current = this.kv.get(id);
    if (entry.revision !== undefined && entry.revision !== (current?.revision ?? 0n)) return { ok: false, code: 'conflict' };
    const stored = { namespace: entry.namespace, key: entry.key, value: entry.value.slice(), revision: (current?.revision ?? 0n) + 1n };
    this.kv.set(id, stored);
    return { ok: true, value: stored };
  }

  storageDelete(installId: string, namespace: string, key: string): Answer<undefined> {
    return this.kv.delete(`${installId}\u0000${namespace}\u0000${key}`) ? { ok: true, value: undefined } : { ok: false, code: 'missing' };
  }

  storageList(installId: string, namespace: string): Answer<StorageEntry[]> {
    const prefix = `${installId}\u0000${namespace}\u0000`;
    return { ok: true, value: [...this.kv.entries()].filter(([k]) => k.startsWith(prefix)).map(([, v]) => v) };
  }

  secret(key: string): Answer<string> {
    const found = this.secrets.get(key);
    return found === undefined ? { ok: false, code: 'missing' } : { ok: true, value: found };
  }

  secretNames(): string[] {
    return [...this.secrets.keys()];
  }

  log(_level: string, _message: string): void {
    this.logRecords++;
  }

  user(tenantId: string): Answer<typeof USER> {
    return { ok: true, value: Object.assign({}, USER, { tenantId }) };
  }

  listClients(input: { page?: number | undefined; pageSize?: number | undefined }): Answer<{ items: (typeof CLIENT)[]; totalCount: number; page: number; pageSize: number }> {
    return { ok: true, value: { items: [CLIENT], totalCount: 1, page: input.page ?? 1, pageSize: input.pageSize ?? 25 } };
  }

  getClient(id: string): Answer<typeof CLIENT | undefined> {
    return { ok: true, value: id === CLIENT.clientId ? CLIENT : undefined };
  }

  listServices(input: { page?: number | undefined; pageSize?: number | undefined }): Answer<{ items: never[]; totalCount: number; page: number; pageSize: number }> {
    return { ok: true, value: { items: [], totalCount: 0, page: input.page ?? 1, pageSize: input.pageSize ?? 25 } };
  }
}

// ---- the engine's view: capability modules following src/capabilities/capability.ts ----

const answer = (a: Answer<unknown>): HostResult => (a.ok ? ok(a.value) : err(a.code));

/** `delivery` as the real module declares it (src/capabilities/logging.ts, context.ts, user.ts; `in-worker`: secrets.ts, clients.ts, services.ts). */
function capability(name: `cap:${string}`, iface: string, functions: Record<string, CapabilityFunction<string, null>>, deniedCode: string | null, delivery?: Delivery): Capability<string, null> {
  const denied = Object.fromEntries(Object.keys(functions).map((fn) => [fn, deniedCode === null ? ('drop' as const) : err(deniedCode)]));
  return defineCapability<string, null>({
    name,
    grantedByDefault: false,
    configure: (install) => install.installId,
    prepare: () => null,
    ...(delivery === 'in-worker' ? { worker: { module: import.meta.url, init: null } } : {}),
    interfaces: [{ name: iface, functions, denied, delivery: delivery && Object.fromEntries(Object.keys(functions).map((fn) => [fn, delivery])) }],
  });
}

type ListInput = { page?: number; pageSize?: number };

/** The worker side of the fixed-data stand-ins (src/contract/worker-side.ts): the same fixtures, per worker. */
export const createWorkerFunctions: CreateWorkerFunctions = () => {
  const fixtures = new InMemoryBackend();
  return {
    'alga:extension/secrets#get': ({ args }) => answer(fixtures.secret(args[0] as string)),
    'alga:extension/secrets#list': () => value(fixtures.secretNames()),
    'alga:extension/clients#listClients': ({ args }) => answer(fixtures.listClients(args[0] as ListInput)),
    'alga:extension/clients#getClient': ({ args }) => answer(fixtures.getClient(args[0] as string)),
    'alga:extension/services#listServices': ({ args }) => answer(fixtures.listServices(args[0] as ListInput)),
    'alga:extension/services#getService': () => ok(undefined),
  };
};

const contextOf = (ctx: { requestId: string; tenantId: string; extensionId: string; installId: string | null; versionId: string | null }): ContextData => ({
  requestId: ctx.requestId,
  tenantId: ctx.tenantId,
  extensionId: ctx.extensionId,
  installId: ctx.installId ?? undefined,
  versionId: ctx.versionId ?? undefined,
});

/** Every interface the kitchen-sink imports, served from `backend` (so `prepare` accepts it). */
/** `workerReads: false`: no worker sides, every call but logging, context and user a round trip (for comparison). */
/** `executionLogs`: log records go to the execution's log (the service's path: its log and the log store), not just counted. */
export function createInMemoryRegistry(backend: InMemoryBackend, observer?: CapabilityCallObserver, { workerReads = true, executionLogs = false } = {}): CapabilityRegistry {
  const reads: Delivery | undefined = workerReads ? 'in-worker' : undefined;
  const log =
    (level: string): CapabilityFunction<string, null> =>
    ({ args }) => {
      backend.log(level, String(args[0]));
      return value(undefined);
    };
  const registry = new CapabilityRegistry(observer);
  if (executionLogs) registry.register(createLoggingCapability());
  else registry.register(capability('cap:log.emit', 'alga:extension/logging', { info: log('info'), warn: log('warn'), error: log('error') }, null, 'one-way'));
  return registry
    .register(capability('cap:context.read', 'alga:extension/context', { getContext: ({ ctx }) => value(backend.context(contextOf(ctx))) }, null, 'per-execution'))
    .register(
      capability(
        'cap:storage.kv',
        'alga:extension/storage',
        {
          get: ({ args, config }) => answer(backend.storageGet(config, args[0] as string, args[1] as string)),
          put: ({ args, config }) => answer(backend.storagePut(config, args[0] as StorageEntry)),
          delete: ({ args, config }) => answer(backend.storageDelete(config, args[0] as string, args[1] as string)),
          list: ({ args, config }) => answer(backend.storageList(config, args[0] as string)),
        },
        'denied',
      ),
    )
    .register(capability('cap:secrets.get', 'alga:extension/secrets', { get: ({ args }) => answer(backend.secret(args[0] as string)), list: () => value(backend.secretNames()) }, 'denied', reads))
    .register(capability('cap:user.read', 'alga:extension/user-v2', { getUser: ({ ctx }) => answer(backend.user(ctx.tenantId)) }, 'not-allowed', 'per-execution'))
    .register(
      capability(
        'cap:client.read',
        'alga:extension/clients',
        {
          listClients: ({ args }) => answer(backend.listClients(args[0] as ListInput)),
          getClient: ({ args }) => answer(backend.getClient(args[0] as string)),
        },
        'not-allowed',
        reads,
      ),
    )
    .register(
      capability(
        'cap:service.read',
        'alga:extension/services',
        {
          listServices: ({ args }) => answer(backend.listServices(args[0] as ListInput)),
          getService: () => ok(undefined),
        },
        'not-allowed',
        reads,
      ),
    )
    .register(capability('cap:http.fetch', 'alga:extension/http', { fetch: () => err('not-allowed') }, 'not-allowed'))
    .register(capability('cap:ui.proxy', 'alga:extension/ui-proxy', { call: () => err('route-not-found') }, 'denied'));
}

// ---- the jco view: synchronous import functions, as a Node developer would write them ----

/** jco lowers a thrown `{ payload }` as the `err` case of a WIT result. */
function unwrap<T>(a: Answer<T>): T {
  if (!a.ok) throw { payload: a.code };
  return a.value;
}

/** `imports['alga:extension/x']` objects for jco glue; `current` is the request being served. */
export function jcoHostImports(backend: InMemoryBackend, current: () => ContextData): Record<string, Record<string, (...args: never[]) => unknown>> {
  const install = () => current().installId ?? 'install-bench';
  return {
    'alga:extension/context': { getContext: () => backend.context(current()) },
    'alga:extension/logging': {
      info: (m: string) => backend.log('info', m),
      warn: (m: string) => backend.log('warn', m),
      error: (m: string) => backend.log('error', m),
    },
    'alga:extension/storage': {
      get: (ns: string, key: string) => unwrap(backend.storageGet(install(), ns, key)),
      put: (entry: StorageEntry) => unwrap(backend.storagePut(install(), entry)),
      delete: (ns: string, key: string) => unwrap(backend.storageDelete(install(), ns, key)),
      list: (ns: string) => unwrap(backend.storageList(install(), ns)),
    },
    'alga:extension/secrets': { get: (key: string) => unwrap(backend.secret(key)), list: () => backend.secretNames() },
    'alga:extension/user-v2': { getUser: () => unwrap(backend.user(current().tenantId)) },
    'alga:extension/clients': {
      listClients: (input: { page?: number; pageSize?: number }) => unwrap(backend.listClients(input)),
      getClient: (id: string) => unwrap(backend.getClient(id)),
    },
    'alga:extension/services': {
      listServices: (input: { page?: number; pageSize?: number }) => unwrap(backend.listServices(input)),
      getService: () => undefined,
    },
    'alga:extension/http': { fetch: () => unwrap({ ok: false, code: 'not-allowed' }) },
    'alga:extension/ui-proxy': { call: () => unwrap({ ok: false, code: 'route-not-found' }) },
  };
}
