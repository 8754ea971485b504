/**
 * The install's key/value storage (cap:storage.kv): the host's calls as typed results, plus JSON
 * values, a compare-and-swap update loop and a paging iterator.
 */
import { currentHost } from './host.js';
import { err, ok, type Result } from './result.js';
import type { StorageEntry, StorageError } from './generated/seed.js';

export type { StorageEntry, StorageError };

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A stored JSON value with the revision it was read at (the key to a compare-and-swap). */
export interface JsonEntry<T> {
  readonly key: string;
  readonly value: T;
  readonly revision: bigint;
}

export interface PutOptions {
  /** compare-and-swap: write only if the entry is at this revision (0n: only if absent) */
  readonly revision?: bigint;
}

export interface UpdateOptions {
  /** how many times to re-read and retry after a conflict (default 5) */
  readonly attempts?: number;
}

function toJsonEntry<T>(entry: StorageEntry): Result<JsonEntry<T>, 'invalid-json'> {
  try {
    return ok({ key: entry.key, value: JSON.parse(decoder.decode(entry.value)) as T, revision: entry.revision ?? 0n });
  } catch {
    return err('invalid-json');
  }
}

export const storage = {
  get(namespace: string, key: string): Result<StorageEntry, StorageError> {
    return currentHost().storage.get(namespace, key);
  },

  /** Writes bytes or text; with `revision`, only if the entry is still at it (else `conflict`). */
  put(namespace: string, key: string, value: Uint8Array | string, options: PutOptions = {}): Result<StorageEntry, StorageError> {
    return currentHost().storage.put({ namespace, key, value: typeof value === 'string' ? encoder.encode(value) : value, revision: options.revision });
  },

  delete(namespace: string, key: string): Result<undefined, StorageError> {
    return currentHost().storage.delete(namespace, key);
  },

  /** One page of entries with keys after `cursor`, ordered by key; an empty page is the end. */
  list(namespace: string, cursor?: string): Result<StorageEntry[], StorageError> {
    return currentHost().storage.list(namespace, cursor);
  },

  /** Reads a JSON value; `missing` when there is none, `invalid-json` when the bytes are not JSON. */
  getJson<T>(namespace: string, key: string): Result<JsonEntry<T>, StorageError | 'invalid-json'> {
    const found = currentHost().storage.get(namespace, key);
    return found.ok ? toJsonEntry<T>(found.value) : found;
  },

  putJson<T>(namespace: string, key: string, value: T, options: PutOptions = {}): Result<JsonEntry<T>, StorageError> {
    const written = storage.put(namespace, key, JSON.stringify(value), options);
    return written.ok ? ok({ key, value, revision: written.value.revision ?? 0n }) : written;
  },

  /**
   * Read-modify-write of a JSON value that survives concurrent writers: reads the value (undefined
   * when absent), writes `change(value)` only if nobody wrote in between, and on a conflict reads
   * again and retries, up to `attempts` times; then it answers `conflict`.
   */
  update<T>(namespace: string, key: string, change: (current: T | undefined) => T, options: UpdateOptions = {}): Result<JsonEntry<T>, StorageError | 'invalid-json'> {
    const attempts = options.attempts ?? 5;
    for (let attempt = 0; attempt < attempts; attempt++) {
      const current = storage.getJson<T>(namespace, key);
      if (!current.ok && current.error !== 'missing') return current;
      const next = change(current.ok ? current.value.value : undefined);
      const written = storage.putJson(namespace, key, next, { revision: current.ok ? current.value.revision : 0n });
      if (written.ok || written.error !== 'conflict') return written;
    }
    return err('conflict');
  },

  /**
   * Every entry of a namespace, page by page, in key order. An error is yielded once, and ends
   * the walk: `for (const entry of storage.entries('notes')) { if (!entry.ok) …; entry.value }`.
   */
  *entries(namespace: string, options: { startAfter?: string } = {}): Generator<Result<StorageEntry, StorageError>, void, undefined> {
    let cursor = options.startAfter;
    for (;;) {
      const page = currentHost().storage.list(namespace, cursor);
      if (!page.ok) {
        yield page;
        return;
      }
      if (page.value.length === 0) return;
      for (const entry of page.value) yield ok(entry);
      cursor = page.value[page.value.length - 1]!.key;
    }
  },

  /** Every JSON value of a namespace, in key order (stops at the first error). */
  allJson<T>(namespace: string): Result<JsonEntry<T>[], StorageError | 'invalid-json'> {
    const out: JsonEntry<T>[] = [];
    for (const entry of storage.entries(namespace)) {
      if (!entry.ok) return entry;
      const parsed = toJsonEntry<T>(entry.value);
      if (!parsed.ok) return parsed;
      out.push(parsed.value);
    }
    return ok(out);
  },
};
