/**
 * `cap:storage.kv` — interface `alga:extension/storage` (wit/world.wit): the install's
 * key/value namespaces. Serves `get`, `put`, `delete`, `list` and the later dialect's
 * `list-entries`. Semantics (revisions, compare-and-swap, paging, quotas) live in the store
 * (src/store/kv.ts); this module maps the guest's values to it and its answers back to
 * `storage-error`, logging each quota denial's reason. Over the embedded SQLite store, get and list
 * are answered in the guest's worker (its worker side, below); writes always go to the main thread.
 */
import { z } from 'zod';
import { defineCapability, err, ok } from './capability.js';
import type { AnswerOf, Capability, CapabilityFunction, Err } from './capability.js';
import { serve, underDialectNames, type SeedInterfaces } from './dialects.js';
import type { StorageEntry, StorageError } from '../generated/wit/seed.js';
import type { CallLogger, CreateWorkerFunctions, ExecutionServices, WorkerFunction } from '../contract/index.js';
import type { KvAccess, KvEntry, KvGetResult, KvListResult, WriteDurability } from '../store/kv.js';
import type { ReadOnlyStore } from '../store/read-only-store.js';
import type { KvLimits } from '../store/kv-limits.js';
import { DEFAULT_KV_LIMITS } from '../store/kv-limits.js';

export const STORAGE_CAPABILITY = 'cap:storage.kv';
export const STORAGE_INTERFACE = 'alga:extension/storage';

export interface StorageConfig {
  readonly installId: string;
}

type Storage = SeedInterfaces['alga:extension/storage'];
type StorageFunction<F extends keyof Storage> = CapabilityFunction<StorageConfig, null, Storage[F]>;

/** WIT `storage-entry` as jco lowers it. */
const entrySchema = z.object({
  namespace: z.string(),
  key: z.string(),
  value: z.instanceof(Uint8Array),
  revision: z.bigint().nonnegative().optional(),
});

const toGuest = (e: KvEntry): StorageEntry => ({ namespace: e.namespace, key: e.key, value: e.value, revision: BigInt(e.revision) });

function denied(logger: CallLogger, fn: string, reason: string): Err<StorageError> {
  logger.log('warn', `storage.${fn} denied: ${reason}`);
  return err('denied');
}

/** The execution takes over waiting for its writes to reach the disk (ExecutionServices.awaitDurable), where it can. */
const durabilityOf = (services: ExecutionServices): WriteDurability | undefined => (services.awaitDurable ? (durable) => services.awaitDurable!(durable) : undefined);

// get and list, shared by the main thread's functions and the worker side's

const keyArgs = (args: readonly unknown[]): [string, string] | null => {
  const [namespace, key] = args;
  return typeof namespace === 'string' && typeof key === 'string' ? [namespace, key] : null;
};

const listArgs = (args: readonly unknown[]): [string, string | undefined] | null => {
  const [namespace, cursor] = args;
  return typeof namespace === 'string' && (cursor === undefined || typeof cursor === 'string') ? [namespace, cursor] : null;
};

function answerGet(found: KvGetResult, logger: CallLogger): AnswerOf<Storage['get']> {
  if (found.kind === 'denied') return denied(logger, 'get', found.reason);
  return found.kind === 'ok' ? ok(toGuest(found.entry)) : err('missing');
}

function answerList(page: KvListResult, logger: CallLogger): AnswerOf<Storage['list']> {
  if (page.kind === 'denied') return denied(logger, 'list', page.reason);
  return ok(page.entries.map(toGuest));
}

/** What a worker needs to serve get and list itself (see createWorkerFunctions below). */
interface StorageWorkerInit {
  readonly limits: KvLimits;
}

/**
 * Worker side (worker-side.ts): get and list through the worker's reads of the SQLite store. Writes
 * stay round trips: they take the install's write lock on the main thread's connection.
 */
export const createWorkerFunctions: CreateWorkerFunctions<ReadOnlyStore> = (init, store) => {
  const { limits } = init as StorageWorkerInit;
  const kv = store().kv;
  const get: WorkerFunction<StorageConfig> = (call) => {
    const parsed = keyArgs(call.args);
    return parsed ? answerGet(kv.get(call.config.installId, parsed[0], parsed[1], limits), call) : err('internal');
  };
  const list: WorkerFunction<StorageConfig> = (call) => {
    const parsed = listArgs(call.args);
    return parsed ? answerList(kv.list(call.config.installId, parsed[0], parsed[1], limits), call) : err('internal');
  };
  const byName = underDialectNames(STORAGE_INTERFACE, { get, list });
  return Object.fromEntries(Object.entries(byName).map(([fn, f]) => [`${STORAGE_INTERFACE}#${fn}`, f]));
};

/**
 * `inWorker`: workers may read the store (the registry's workerStore) — then get and list are
 * answered in the worker (delivery `in-worker`); without it they are round trips.
 */
export function createStorageCapability(kv: KvAccess, limits: KvLimits = DEFAULT_KV_LIMITS, inWorker = false): Capability<StorageConfig, null> {
  const get: StorageFunction<'get'> = async ({ args, config, services }) => {
    const parsed = keyArgs(args);
    return parsed ? answerGet(await kv.get(config.installId, parsed[0], parsed[1], limits), services) : err('internal');
  };

  const put: StorageFunction<'put'> = async ({ args, config, services }) => {
    const parsed = entrySchema.safeParse(args[0]);
    if (!parsed.success) return err('internal');
    const { namespace, key, value, revision } = parsed.data;
    // No entry ever reaches a revision beyond 2^53, so asking for one can only conflict.
    if (revision !== undefined && revision > BigInt(Number.MAX_SAFE_INTEGER)) return err('conflict');
    const written = await kv.put(config.installId, { namespace, key, value, revision: revision === undefined ? undefined : Number(revision) }, limits, durabilityOf(services));
    if (written.kind === 'denied') return denied(services, 'put', written.reason);
    return written.kind === 'ok' ? ok(toGuest(written.entry)) : err('conflict');
  };

  const remove: StorageFunction<'delete'> = async ({ args, config, services }) => {
    const parsed = keyArgs(args);
    if (!parsed) return err('internal');
    const removed = await kv.delete(config.installId, parsed[0], parsed[1], limits, durabilityOf(services));
    if (removed.kind === 'denied') return denied(services, 'delete', removed.reason);
    return removed.kind === 'ok' ? ok(undefined) : err('missing');
  };

  const list: StorageFunction<'list'> = async ({ args, config, services }) => {
    const parsed = listArgs(args);
    return parsed ? answerList(await kv.list(config.installId, parsed[0], parsed[1], limits), services) : err('internal');
  };

  return defineCapability<StorageConfig, null>({
    name: STORAGE_CAPABILITY,
    grantedByDefault: false,
    configure: (install) => ({ installId: install.installId }),
    prepare: () => null,
    ...(inWorker ? { worker: { module: import.meta.url, init: { limits } satisfies StorageWorkerInit } } : {}),
    interfaces: [
      serve(STORAGE_INTERFACE, {
        functions: { get, put, delete: remove, list },
        denied: { get: err('denied'), put: err('denied'), delete: err('denied'), list: err('denied') },
        onFailure: err('internal'),
        delivery: { get: 'in-worker', list: 'in-worker' },
      }),
    ],
  });
}
