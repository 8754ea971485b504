/**
 * The capabilities' worker sides (contract/worker-side.ts) as this worker opened them at start: the
 * in-worker functions by `iface#fn`, and why any side failed to open.
 */
import type { CreateWorkerFunctions, WorkerFunction, WorkerSideSpec } from '../../contract/index.js';
import { describe } from './faults.js';

export interface OpenedWorkerSides {
  /** the in-worker functions of the sides that opened, by `iface#fn` */
  readonly functions: ReadonlyMap<string, WorkerFunction<never>>;
  /** one message per side that could not open (its calls then fail with host_error) */
  readonly errors: string[];
}

export async function openWorkerSides(specs: readonly WorkerSideSpec[]): Promise<OpenedWorkerSides> {
  const functions = new Map<string, WorkerFunction<never>>();
  const errors: string[] = [];
  for (const side of specs) {
    try {
      const module = (await import(side.module)) as { createWorkerFunctions?: CreateWorkerFunctions };
      if (typeof module.createWorkerFunctions !== 'function') throw new Error(`${side.module} has no createWorkerFunctions export`);
      for (const [key, fn] of Object.entries(module.createWorkerFunctions(side.init))) functions.set(key, fn);
    } catch (e) {
      errors.push(`the worker side of ${side.capability} could not open: ${describe(e)}`);
    }
  }
  return { functions, errors };
}
