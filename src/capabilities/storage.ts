/**
 * `cap:storage.kv` — interface `alga:extension/storage` (DESIGN.md §3, §4): the install's
 * key/value namespaces. Serves `get`, `put`, `delete`, `list` and the later dialect's
 * `list-entries`. Semantics (revisions, compare-and-swap, paging, quotas) live in the store
 * (src/store/kv.ts); this module maps the guest's values to it and its answers back to
 * `storage-error`, logging each quota denial's reason.
 */
import { z } from 'zod';
import { defineCapability, err, ok } from './capability.js';
import type { Capability, CapabilityFunction, ExecutionServices, HostResult } from './capability.js';
import type { KvEntry, KvStore } from '../store/kv.js';
import type { KvLimits } from '../store/kv-limits.js';
import { DEFAULT_KV_LIMITS } from '../store/kv-limits.js';

export const STORAGE_CAPABILITY = 'cap:storage.kv';
export const STORAGE_INTERFACE = 'alga:extension/storage';

export interface StorageConfig {
  readonly installId: string;
}

type StorageFunction = CapabilityFunction<StorageConfig, null>;

/** WIT `storage-entry` as jco lowers it. */
const entrySchema = z.object({
  namespace: z.string(),
  key: z.string(),
  value: z.instanceof(Uint8Array),
  revision: z.bigint().nonnegative().optional(),
});

const toGuest = (e: KvEntry) => ({ namespace: e.namespace, key: e.key, value: e.value, revision: BigInt(e.revision) });

function denied(services: ExecutionServices, fn: string, reason: string): HostResult {
  services.log('warn', `storage.${fn} denied: ${reason}`);
  return err('denied');
}

export function createStorageCapability(kv: KvStore, limits: KvLimits = DEFAULT_KV_LIMITS): Capability<StorageConfig, null> {
  const get: StorageFunction = async ({ args, config, services }) => {
    const [namespace, key] = args;
    if (typeof namespace !== 'string' || typeof key !== 'string') return err('internal');
    const found = await kv.get(config.installId, namespace, key, limits);
    if (found.kind === 'denied') return denied(services, 'get', found.reason);
    return found.kind === 'ok' ? ok(toGuest(found.entry)) : err('missing');
  };

  const put: StorageFunction = async ({ args, config, services }) => {
    const parsed = entrySchema.safeParse(args[0]);
    if (!parsed.success) return err('internal');
    const { namespace, key, value, revision } = parsed.data;
    // No entry ever reaches a revision beyond 2^53, so asking for one can only conflict.
    if (revision !== undefined && revision > BigInt(Number.MAX_SAFE_INTEGER)) return err('conflict');
    const written = await kv.put(config.installId, { namespace, key, value, revision: revision === undefined ? undefined : Number(revision) }, limits);
    if (written.kind === 'denied') return denied(services, 'put', written.reason);
    return written.kind === 'ok' ? ok(toGuest(written.entry)) : err('conflict');
  };

  const remove: StorageFunction = async ({ args, config, services }) => {
    const [namespace, key] = args;
    if (typeof namespace !== 'string' || typeof key !== 'string') return err('internal');
    const removed = await kv.delete(config.installId, namespace, key, limits);
    if (removed.kind === 'denied') return denied(services, 'delete', removed.reason);
    return removed.kind === 'ok' ? ok(undefined) : err('missing');
  };

  const list: StorageFunction = async ({ args, config, services }) => {
    const [namespace, cursor] = args;
    if (typeof namespace !== 'string' || (cursor !== undefined && typeof cursor !== 'string')) return err('internal');
    const page = await kv.list(config.installId, namespace, cursor, limits);
    if (page.kind === 'denied') return denied(services, 'list', page.reason);
    return ok(page.entries.map(toGuest));
  };

  return defineCapability<StorageConfig, null>({
    name: STORAGE_CAPABILITY,
    grantedByDefault: false,
    configure: (install) => ({ installId: install.installId }),
    prepare: () => null,
    interfaces: [
      {
        name: STORAGE_INTERFACE,
        functions: { get, put, delete: remove, list, listEntries: list },
        denied: { get: err('denied'), put: err('denied'), delete: err('denied'), list: err('denied'), listEntries: err('denied') },
        onFailure: err('internal'),
      },
    ],
  });
}
