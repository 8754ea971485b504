/**
 * What the engine needs of the capabilities: the capability registry, seen through this interface
 * so the engine never imports capabilities/ (capabilities/registry.ts implements it).
 */
import type { ExecutionView } from './execution.js';
import type { InvokeResult } from './host.js';
import type { LocalPlan, WorkerCallRecord, WorkerSideSpec, WorkerStoreSpec } from './worker-side.js';

/** The capability registry as the engine calls it: install-time checks, worker sides, and each execution's host calls. */
export interface CapabilityHost {
  /** `iface#fn` pairs a component imports that no capability serves. */
  unserved(importedFunctions: Record<string, string[]>): string[];
  /** The worker sides every guest worker opens when it starts (capabilities with `worker`). */
  workerSides(): WorkerSideSpec[];
  /** The store every guest worker opens once, read-only, for the worker sides to read (null: none may). */
  workerStore(): WorkerStoreSpec | null;
  /** What the worker may answer itself for an execution, for the functions its component imports. */
  localPlan(execution: ExecutionView, importedFunctions: Readonly<Record<string, readonly string[]>>): LocalPlan;
  /** Accounts for the calls a worker answered from the plan: counted, observed and denials noted as if each had made the round trip. */
  recordLocal(execution: ExecutionView, plan: LocalPlan, counts: Readonly<Record<string, number>>, workerCalls: readonly WorkerCallRecord[]): void;
  /** Runs one round-trip call: grant check, the capability function, failure containment. */
  invoke(execution: ExecutionView, iface: string, fnName: string, args: readonly unknown[]): Promise<InvokeResult>;
}
