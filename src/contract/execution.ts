/**
 * Who an execution runs for and what it may do, as both the engine and the capabilities see it.
 * This module (like all of src/contract) imports nothing from engine, capabilities, store or service.
 */

/** A grant, and the name of the capability it gates (`cap:storage.kv`). */
export type CapabilityName = `cap:${string}`;

/** The user an execution runs on behalf of (from the gateway's envelope). */
export interface ExecutionUser {
  readonly userId: string;
  readonly userEmail: string;
  readonly userName: string;
  readonly userType: string;
  readonly clientName: string;
  readonly clientId: string | null;
  readonly additionalFields: Readonly<Record<string, string>>;
}

/** An execution's identity, user and per-request config, as every host function receives it. */
export interface ExecutionContext {
  readonly requestId: string;
  readonly tenantId: string;
  readonly extensionId: string;
  readonly installId: string | null;
  readonly versionId: string | null;
  readonly contentHash: string;
  readonly user: ExecutionUser | null;
  readonly config: Readonly<Record<string, string>>;
}

/** The install an execution runs under, as a capability's `configure` sees it. */
export interface InstallView {
  readonly installId: string;
  readonly tenantId: string;
  readonly extensionId: string;
  readonly versionId: string | null;
  readonly config: Readonly<Record<string, string>>;
  readonly egressAllow: readonly string[];
  /** `prefixExtension`: Alga's runner's routing (the Alga-managed mode; capabilities/ui-proxy.ts) */
  readonly uiProxy: { readonly baseUrl: string; readonly prefixExtension?: boolean } | null;
  /**
   * Secrets the execute request's secret_envelope carried, for this execution only: present only
   * when the operator allows envelope secrets (RUNNER_ENVELOPE_SECRETS) and the request had one.
   */
  readonly envelopeSecrets?: Readonly<Record<string, string>> | null;
}

/** Facilities every execution offers capability functions (logging, counters, limits). */
export interface ExecutionServices {
  /** Write a record to the install's log with the execution's context. */
  log(level: 'debug' | 'info' | 'warn' | 'error', message: string, stream?: 'log' | 'stdout' | 'stderr'): void;
  /** Note a denied call (counted, logged once per execution per capability). */
  noteDenied(capability: CapabilityName, fn: string, reason: string): void;
  /** Abort signal that fires when the execution ends (deadline, fault or completion). */
  readonly signal: AbortSignal;
  /**
   * A write of the execution is committed — visible, and acknowledged to the guest — but not yet
   * on disk: `durable` settles when it is. Nothing leaves the runner before then: the execution's
   * answer waits for it, and so does every later call of a capability that reaches outside
   * (`leavesRunner`); if it fails, the execution ends with `host_error` instead of answering.
   * Absent (hosts that run capabilities alone): writes are on disk before they return.
   */
  awaitDurable?(durable: Promise<void>): void;
  /** Settles when every write handed to `awaitDurable` so far is on disk; rejects if one could not be made so. */
  durable?(): Promise<void>;
}

/** An execution as the capabilities see it (the registry, per call): who calls, what is granted, where to log, per-capability state. */
export interface ExecutionView {
  readonly ctx: ExecutionContext;
  readonly install: InstallView;
  readonly grants: ReadonlySet<CapabilityName>;
  readonly services: ExecutionServices;
  /** per-capability state for this execution, built on first use */
  readonly states: Map<CapabilityName, { config: unknown; state: unknown }>;
}
