/**
 * The contract between the engine and the capabilities: the types both sides use, declared once.
 * Nothing here imports from engine/, capabilities/, store/ or service/ (checked by
 * test/architecture.test.ts).
 */
export type { CapabilityName, ExecutionUser, ExecutionContext, InstallView, ExecutionServices, ExecutionView } from './execution.js';
export type { GuestHttpRequest, GuestContextData, GuestResponse } from './guest.js';
export type { HostResult, FaultCode, HostCallAnswer, InvokeResult } from './host.js';
export { DROPPED_ANSWER } from './host.js';
export type {
  WorkerLogLevel,
  WorkerCall,
  WorkerFunction,
  CallLogger,
  WorkerFunctions,
  CreateWorkerFunctions,
  WorkerCallRecord,
  WorkerSide,
  WorkerSideSpec,
  WorkerStoreSpec,
  InWorkerCall,
  LocalPlan,
} from './worker-side.js';
export { NO_LOCAL_PLAN } from './worker-side.js';
export type { CapabilityHost } from './capability-host.js';
