/**
 * The capabilities' worker sides (contract/worker-side.ts) as this worker opened them at start: the
 * in-worker functions by `iface#fn`, and why any side failed to open. The one place a worker opens
 * the store: one read-only connection (store/read-only-store.ts), on the first side's use, handed to
 * every side — a side never opens a store connection itself.
 */
import type { CreateWorkerFunctions, WorkerFunction, WorkerSideSpec, WorkerStoreSpec } from '../../contract/index.js';
import type { ReadOnlyStore } from '../../store/read-only-store.js';
import { describe } from './faults.js';

export interface OpenedWorkerSides {
  /** the in-worker functions of the sides that opened, by `iface#fn` */
  readonly functions: ReadonlyMap<string, WorkerFunction<never>>;
  /** one message per side that could not open (its calls then fail with host_error) */
  readonly errors: string[];
}

/** `store`: where the embedded store is (CapabilityHost.workerStore; null: this runner has none a worker may read). */
export async function openWorkerSides(specs: readonly WorkerSideSpec[], store: WorkerStoreSpec | null): Promise<OpenedWorkerSides> {
  const functions = new Map<string, WorkerFunction<never>>();
  const errors: string[] = [];
  const storeReads = await workerStore(store);
  for (const side of specs) {
    try {
      const module = (await import(side.module)) as { createWorkerFunctions?: CreateWorkerFunctions<ReadOnlyStore> };
      if (typeof module.createWorkerFunctions !== 'function') throw new Error(`${side.module} has no createWorkerFunctions export`);
      for (const [key, fn] of Object.entries(module.createWorkerFunctions(side.init, storeReads))) functions.set(key, fn);
    } catch (e) {
      errors.push(`the worker side of ${side.capability} could not open: ${describe(e)}`);
    }
  }
  return { functions, errors };
}

/**
 * The worker's reads of the store, opened on the first call and shared by every later one; a
 * failure to open is thrown to each side that asks (so it names the capability). The store's
 * modules load only when there is a store to read (not over PostgreSQL, nor with worker reads off).
 */
async function workerStore(store: WorkerStoreSpec | null): Promise<() => ReadOnlyStore> {
  if (!store) {
    return () => {
      throw new Error('this runner has no store a worker can read (PostgreSQL, a store with its own clock, or worker reads off)');
    };
  }
  const { ReadOnlyStore } = await import('../../store/read-only-store.js');
  let opened: { reads: ReadOnlyStore } | { error: unknown } | undefined;
  return () => {
    if (!opened) {
      try {
        opened = { reads: ReadOnlyStore.open(store) };
      } catch (error) {
        opened = { error };
      }
    }
    if ('error' in opened) throw opened.error;
    return opened.reads;
  };
}
