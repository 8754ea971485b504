/**
 * The execute pipeline shared by `POST /v1/execute` and the dev gateway: envelope → install (from
 * our registry, never from the caller) → grants → limits → idempotency → admission → engine →
 * answer. Expected refusals are ServiceErrors (transport 4xx); guest faults are answers (200).
 */
import { isStoreUnavailableError } from '../store/index.js';
import { createHash, randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { effectiveGrants } from '../capabilities/grants.js';
import type { CapabilityName, ExecutionUser } from '../contract/index.js';
import type { LogRecord } from '../engine/api.js';
import { ServiceError } from './errors.js';
import { decodeBase64, guestUrl, type ExecuteAnswer, type ExecuteEnvelope } from './envelope.js';
import type { ResolvedInstall, Runtime } from './runtime.js';
import type { IdempotencyScope } from '../store/index.js';
import type { AdmissionLimiter } from './admission.js';
import { checkGuestResponse } from './guest-response.js';
import { EnvelopeSecrets } from './secret-envelope.js';
import { renewWhileRunning } from './lease-renewal.js';
import { managedInstall, managedInstallRef, type ManagedSettings } from './managed-install.js';

/** Headers a guest never sees: they belong to the hop, not the request. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer', 'authorization', 'x-runner-service-token']);

/** A running execution's grants, narrowed in place when its install changes (the engine checks them at every round-trip host call). */
interface LiveGrants {
  readonly grants: Set<CapabilityName>;
  readonly manifest: readonly string[];
  readonly providers: readonly string[] | undefined;
}

export class Executor {
  readonly admission: AdmissionLimiter;
  /** the grant sets of executions running now, by install */
  private readonly liveGrants = new Map<string, Set<LiveGrants>>();
  /** idempotent executions running in this process, so local duplicates wait without polling */
  private readonly running = new Map<string, { fingerprint: string; answer: Promise<ExecuteAnswer> }>();
  private draining = false;
  private inFlight = 0;
  /** log records being stored after their execution answered (drain waits for them) */
  private readonly persisting = new Set<Promise<void>>();
  private idle: (() => void) | null = null;
  private readonly envelopeSecrets: EnvelopeSecrets;
  /** installs whose callers' envelopes were ignored (envelope secrets off): said once per install */
  private readonly ignoredEnvelopes = new Set<string>();
  private readonly managedSettings: ManagedSettings;

  constructor(
    private readonly runtime: Runtime,
    private readonly logger: Logger,
  ) {
    const c = runtime.config;
    this.admission = runtime.admission;
    this.envelopeSecrets = new EnvelopeSecrets(c.vault);
    this.managedSettings = { egressAllow: c.managed.egressAllow, uiProxyBaseUrl: c.managed.uiProxyBaseUrl ?? null };
    const { engine } = runtime;
    runtime.installChanges.on('install', (installId: string) => void this.narrowRunning(installId));
    runtime.installChanges.on('everything', () => {
      for (const installId of this.liveGrants.keys()) void this.narrowRunning(installId);
    });
    engine.on('probation', (owner) =>
      logger.warn(
        { tenant: owner.tenant, install: owner.install, strikes: c.penaltyStrikes, probation_ms: c.penaltyMs },
        "install on probation: its executions keep overrunning their deadline, crashing their worker or reaching the memory limit; one at a time, after other tenants' work",
      ),
    );
    if (logger.isLevelEnabled('debug')) {
      engine.on('dispatch', (e) =>
        logger.debug(
          {
            tenant: e.owner.tenant,
            install: e.owner.install,
            request_id: e.requestId,
            arrival: e.arrival,
            queued: e.queued,
            overtaken_by: e.overtakenBy,
            tenant_running: e.tenantRunning,
            install_running: e.installRunning,
            penalised: e.penalised,
          },
          'dispatched to a worker',
        ),
      );
    }
  }

  async execute(envelope: ExecuteEnvelope, idempotencyKey?: string): Promise<ExecuteAnswer> {
    if (this.draining) throw new ServiceError('shutting_down');
    const changesBefore = this.runtime.changesHeard;
    const { install, ready } = await this.entryOf(envelope);
    const body = envelope.http.body_b64 ? decodeBase64(envelope.http.body_b64) : undefined;
    if (body === null) throw new ServiceError('invalid_request', 'http.body_b64 is not valid base64');
    if (body && body.byteLength > this.runtime.config.maxBodyBytes) throw new ServiceError('body_too_large', `${body.byteLength} bytes, limit ${this.runtime.config.maxBodyBytes}`);
    const known = new Set(this.runtime.registry.names());
    const unknown = (envelope.providers ?? []).filter((p) => !known.has(p as `cap:${string}`));
    if (unknown.length) throw new ServiceError('unknown_capability', unknown.join(', '));
    // opened only when the guest is to run: a replayed idempotent answer needs no Vault, and no
    // component (a replica that has not prepared this version fetches it from the component store;
    // managed: from Alga's bundle store)
    const work = async () => this.run(envelope, await ready(), body, await this.secretsOf(envelope, install.id), changesBefore);

    if (!idempotencyKey) return work();
    // scoped by the extension the registry resolved, so a caller naming it by id or by name hits the same key
    const scope = { tenant: install.tenantId, extension: install.extensionId, key: idempotencyKey };
    const fingerprint = requestFingerprint(envelope, install.id, body);
    return this.idempotent(scope, fingerprint, envelope.context.request_id, work);
  }

  /**
   * The install a call names, and how to make it ready to run — its component prepared — which is
   * done only when the guest is to run (a replayed idempotent answer needs neither).
   * Standalone: looked up in the registry. Managed: the envelope's; its bundle comes from Alga's store.
   */
  private async entryOf(envelope: ExecuteEnvelope): Promise<{ install: { id: string; tenantId: string; extensionId: string }; ready: () => Promise<ResolvedInstall> }> {
    const { context } = envelope;
    if (this.runtime.config.registry === 'alga') {
      const named = managedInstallRef(envelope);
      return {
        install: { id: named.installId, tenantId: named.tenantId, extensionId: named.extensionId },
        ready: () => managedInstall(envelope, this.runtime.components, this.managedSettings),
      };
    }
    const resolved = await this.runtime.resolveInstall(context.tenant_id, context.extension_id, context.install_id);
    if (!resolved) throw new ServiceError('install_not_found', `tenant ${context.tenant_id}, extension ${context.extension_id}${context.install_id ? `, install ${context.install_id}` : ''}`);
    if (!resolved.install.enabled) throw new ServiceError('install_disabled');
    if (context.content_hash && context.content_hash !== resolved.version.contentHash) {
      throw new ServiceError('content_hash_mismatch', `the install runs ${resolved.version.contentHash}`);
    }
    return {
      install: resolved.install,
      ready: async () => {
        await this.runtime.ensurePrepared(resolved.version);
        return resolved;
      },
    };
  }

  /**
   * The envelope's secrets when the operator allows them (RUNNER_ENVELOPE_SECRETS=1); else the
   * envelope is ignored — the install's stored secrets are the guest's — and that is said once per install.
   */
  private async secretsOf(envelope: ExecuteEnvelope, installId: string): Promise<Record<string, string> | null> {
    const sealed = envelope.secret_envelope;
    if (!sealed) return null;
    // managed: Alga keeps the install's secrets, the envelope is all there is (as in Alga's runner)
    if (this.runtime.config.envelopeSecrets || this.runtime.config.registry === 'alga') return this.envelopeSecrets.open(sealed);
    if (!this.ignoredEnvelopes.has(installId) && this.ignoredEnvelopes.size < 10_000) {
      this.ignoredEnvelopes.add(installId);
      this.logger.info({ install: installId, tenant: envelope.context.tenant_id }, "secret_envelope ignored: RUNNER_ENVELOPE_SECRETS is off, the guest sees the install's stored secrets");
    }
    return null;
  }

  /**
   * Runs `work` once for a key across every process on the store. The claim is a lease this
   * process renews while the work runs (lease-renewal.ts); a duplicate waits (polling the store,
   * or on the local promise) and replays the answer. If the holder dies, its lease runs out and a
   * waiting duplicate takes the key over and runs the work itself: on a crash the work may have
   * run (partly) twice — at-least-once — and exactly once otherwise (docs/architecture.md).
   */
  private async idempotent(scope: IdempotencyScope, fingerprint: string, requestId: string | undefined, work: () => Promise<ExecuteAnswer>): Promise<ExecuteAnswer> {
    const { key } = scope;
    const localKey = `${scope.tenant}\u0000${scope.extension}\u0000${key}`;
    const { idempotency } = this.runtime.store;
    const { maxTimeoutMs, idempotencyLeaseMs: leaseMs, idempotencyTtlMs } = this.runtime.config;
    const fields = { tenant: scope.tenant, extension: scope.extension, idempotency_key: key, request_id: requestId };
    // the earlier request runs for at most maxTimeoutMs; a dead holder's key is free within a lease
    const deadline = Date.now() + maxTimeoutMs + leaseMs + 10_000;
    let pause = 10;
    let waiting = false;
    const noteWaiting = (where: 'this process' | 'another process') => {
      if (waiting) return;
      waiting = true;
      this.logger.info({ ...fields, running_in: where }, 'waiting for an earlier request with the same idempotency key');
    };
    for (;;) {
      const local = this.running.get(localKey);
      if (local) {
        if (local.fingerprint !== fingerprint) throw keyReused(key, 'in-flight');
        noteWaiting('this process');
        return local.answer;
      }
      const claim = await idempotency.claim(scope, idempotencyTtlMs, { leaseMs, fingerprint });
      if (claim.kind === 'mismatch') throw keyReused(key, claim.state);
      if (claim.kind === 'done') return claim.response as ExecuteAnswer;
      if (claim.kind === 'claimed') {
        if (waiting) this.logger.info(fields, 'claimed the idempotency key after waiting: the earlier request failed, or its process stopped renewing its lease (it may have run partly)');
        const p = this.runClaimed(scope, fields, leaseMs, work);
        this.running.set(localKey, { fingerprint, answer: p });
        try {
          return await p;
        } finally {
          this.running.delete(localKey);
        }
      }
      // in flight in another process (or about to be registered in this one): wait for its answer
      noteWaiting('another process');
      if (Date.now() > deadline) throw new ServiceError('idempotency_wait_timeout');
      await new Promise((r) => setTimeout(r, pause));
      pause = Math.min(pause * 2, 250);
    }
  }

  /**
   * The work of a key this process claimed, its lease renewed meanwhile. The guest has run (or
   * failed) by the time its record is written: a store that cannot take the record (the database
   * went away meanwhile) does not turn the execution's own outcome into a failure. An unwritten
   * answer leaves the claim to expire with its lease; a duplicate then runs again, as after a
   * crash of this process.
   */
  private async runClaimed(scope: IdempotencyScope, fields: Record<string, unknown>, leaseMs: number, work: () => Promise<ExecuteAnswer>): Promise<ExecuteAnswer> {
    const { idempotency } = this.runtime.store;
    const renewal = renewWhileRunning(idempotency, scope, leaseMs, {
      lost: () => this.logger.warn(fields, 'lost the idempotency lease while the request runs: another process took the key over; this answer will not be stored'),
      failed: (e) => this.logger.warn({ ...fields, err: e }, 'renewing the idempotency lease failed; trying again'),
    });
    let answer: ExecuteAnswer;
    try {
      answer = await work();
    } catch (e) {
      await renewal.stop();
      const released = await idempotency.release(scope).catch((releaseError: unknown) => {
        this.logger.error({ ...fields, err: releaseError }, 'releasing the idempotency key failed; it stays claimed until the lease ends');
        return true;
      });
      if (!released) this.logger.warn(fields, 'the idempotency key was no longer this process’s to release: another process took it over');
      throw e;
    }
    await renewal.stop();
    const stored = await idempotency.complete(scope, answer).catch((e: unknown) => {
      this.logger.error({ ...fields, err: e }, 'storing the idempotent answer failed; its key stays claimed until the lease ends');
      return true;
    });
    if (!stored) this.logger.warn(fields, 'the idempotent answer was not stored: another process took the key over after this one lost its lease');
    return answer;
  }

  /**
   * A change to an install reaches its running executions too: their grants lose what the install
   * no longer grants (all of them when it is disabled or removed), so a revoke is in force at their
   * next round-trip host call. Grants only narrow while an execution runs, never widen.
   */
  private async narrowRunning(installId: string): Promise<void> {
    // managed: the registry holds none of the running installs (Alga's); a change feed note about everything must not revoke their grants
    if (this.runtime.config.registry === 'alga') return;
    if (!this.liveGrants.has(installId)) return;
    let install;
    try {
      install = await this.runtime.store.registry.getInstall(installId);
    } catch {
      return;
    }
    for (const live of this.liveGrants.get(installId) ?? []) {
      const allowed: ReadonlySet<CapabilityName> = install?.enabled ? effectiveGrants({ install: install.grants, manifest: live.manifest, providers: live.providers }) : new Set();
      for (const cap of [...live.grants]) if (!allowed.has(cap)) live.grants.delete(cap);
    }
  }

  private async run(
    envelope: ExecuteEnvelope,
    resolved: NonNullable<Awaited<ReturnType<Runtime['resolveInstall']>>>,
    body: Uint8Array | undefined,
    envelopeSecrets: Record<string, string> | null,
    changesBefore: number,
  ): Promise<ExecuteAnswer> {
    const { config, engine, metrics } = this.runtime;
    const { install, version } = resolved;
    const admission = await this.admission.admit(envelope.context.tenant_id, {
      onQueued: () => {
        metrics.queueDepth.set(this.admission.queued + engine.queueDepth);
        this.logger.debug({ tenant: envelope.context.tenant_id, request_id: envelope.context.request_id, scope: this.admission.scope }, 'queued: the tenant is at its concurrency limit');
      },
    });
    metrics.queueDepth.set(this.admission.queued + engine.queueDepth);
    if (admission.kind === 'rejected') {
      metrics.rejected.inc({ reason: admission.reason });
      if (admission.reason === 'tenant_busy')
        throw new ServiceError('too_many_requests', `tenant ${envelope.context.tenant_id} has ${config.tenantConcurrency} executions running and ${config.tenantQueue} waiting`, { retry_after_s: 1 });
      throw new ServiceError('overloaded', undefined, { retry_after_s: 1 });
    }
    this.inFlight++;
    metrics.inFlight.inc();
    const records: LogRecord[] = [];
    let live: LiveGrants | null = null;
    try {
      const ctx = envelope.context;
      const requestId = ctx.request_id ?? randomUUID();
      const timeoutMs = this.runtime.timeoutMsFor(install.limits, envelope.limits?.timeout_ms);
      const memoryMb = this.runtime.memoryMbFor(install.limits, envelope.limits?.memory_mb);
      // standalone: the install grants and the caller's providers only narrow; managed: the providers are the install's grants
      const narrowing = this.runtime.config.registry === 'alga' ? undefined : envelope.providers;
      const grants = new Set(effectiveGrants({ install: install.grants, manifest: resolved.manifestCapabilities, providers: narrowing }));
      live = { grants, manifest: resolved.manifestCapabilities, providers: envelope.providers };
      let running = this.liveGrants.get(install.id);
      if (!running) this.liveGrants.set(install.id, (running = new Set()));
      running.add(live);
      // a change heard since the install was resolved may not be in `resolved`: check it now
      if (this.runtime.changesHeard !== changesBefore) await this.narrowRunning(install.id);
      const mergedConfig = { ...install.config, ...stringValues(ctx.config) };
      const outcome = await engine.execute({
        contentHash: resolved.componentHash,
        ctx: {
          requestId,
          tenantId: install.tenantId,
          extensionId: install.extensionId,
          installId: install.id,
          versionId: version.id,
          contentHash: version.contentHash,
          user: userOf(envelope.user),
          config: mergedConfig,
        },
        install: {
          installId: install.id,
          tenantId: install.tenantId,
          extensionId: install.extensionId,
          versionId: version.id,
          config: mergedConfig,
          egressAllow: install.egressAllow,
          uiProxy: install.uiProxy,
          envelopeSecrets,
        },
        grants,
        request: {
          method: envelope.http.method.toUpperCase(),
          url: guestUrl(envelope.http),
          headers: Object.entries(envelope.http.headers ?? {})
            .filter(([name]) => !HOP_BY_HOP.has(name.toLowerCase()))
            .map(([name, value]) => ({ name, value })),
          body,
        },
        limits: { timeoutMs, memoryMb },
        instanceMode: install.instanceMode,
        onLog: (r) => records.push(r),
      });
      // a write committed but not made durable because the store went away: the store's outage, retried like any other
      if (outcome.kind === 'fault' && outcome.notDurable !== undefined && isStoreUnavailableError(outcome.notDurable)) {
        metrics.observeExecution(install, 'store_unavailable', outcome.report.durationMs / 1000);
        throw outcome.notDurable;
      }
      // a response that could not be relayed as HTTP is a guest fault like the others
      const checked = outcome.kind === 'ok' ? checkGuestResponse(outcome.response) : null;
      const fault = outcome.kind === 'fault' ? { code: outcome.code, message: outcome.message } : checked?.kind === 'invalid' ? { code: 'invalid_response' as const, message: checked.message } : null;
      const outcomeLabel = fault ? fault.code : 'ok';
      metrics.observeExecution(install, outcomeLabel, outcome.report.durationMs / 1000);
      if (outcome.report.stats) {
        metrics.guestMemory.observe(outcome.report.stats.memoryBytes);
        metrics.guestInstances.inc({ source: outcome.report.stats.instance });
      }
      if (checked?.kind === 'ok') {
        const answer: ExecuteAnswer = { status: checked.status, headers: checked.headers };
        if (checked.body) answer.body_b64 = Buffer.from(checked.body).toString('base64');
        return answer;
      }
      const { code, message } = fault ?? { code: 'host_error' as const, message: 'no response and no fault' };
      this.logger.warn({ tenant: install.tenantId, install: install.id, request_id: requestId, fault: code }, message);
      return { status: code === 'timeout' ? 504 : 500, headers: {}, error: code, message };
    } finally {
      if (live) {
        const running = this.liveGrants.get(install.id);
        running?.delete(live);
        if (running?.size === 0) this.liveGrants.delete(install.id);
      }
      admission.release();
      this.inFlight--;
      metrics.inFlight.dec();
      metrics.queueDepth.set(this.admission.queued + engine.queueDepth);
      // the answer does not wait for the records to be stored (the store's own queries do: logs.ts); a drain does
      const persisting = this.persistLogs(records, install.id);
      this.persisting.add(persisting);
      void persisting.finally(() => this.persisting.delete(persisting));
      if (this.inFlight === 0) this.idle?.();
    }
  }

  private async persistLogs(records: LogRecord[], installId: string): Promise<void> {
    if (records.length === 0) return;
    for (const r of records) {
      const { message, ...fields } = r;
      this.logger[r.level === 'debug' ? 'debug' : r.level]({ guest: fields }, message);
    }
    // managed: the install is Alga's, unknown to the store's log tables; the service log above has the records
    if (this.runtime.config.registry === 'alga') return;
    try {
      // the store tells live tails (the change feed); records of an install removed meanwhile are dropped there
      await this.runtime.store.logs.append(records.map((r) => ({ ...r, ts: Date.parse(r.ts), install: r.install ?? installId })));
    } catch (e) {
      this.logger.error({ err: e, install: installId }, 'storing guest log records failed');
    }
  }

  /** Stop taking executions and wait for the running ones (graceful shutdown). */
  async drain(): Promise<void> {
    this.draining = true;
    if (this.inFlight > 0) await new Promise<void>((resolve) => (this.idle = resolve));
    await Promise.all([...this.persisting]);
  }
}

/**
 * What an idempotency key is bound to: a SHA-256 over everything that decides what the guest is
 * asked to do — the install (resolved, so naming the extension by id or by name is the same
 * request), the method, the path and query the guest sees, the body, the user, the per-request
 * config and the providers. Left out, because a retry legitimately changes them: the request id,
 * the headers (gateways add per-attempt ones: request ids, tracing) and the limits.
 */
export function requestFingerprint(envelope: ExecuteEnvelope, installId: string, body: Uint8Array | undefined): string {
  const sorted = (record: Record<string, unknown> | undefined | null) => Object.entries(record ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const parts = [
    'v1',
    installId,
    envelope.http.method.toUpperCase(),
    guestUrl(envelope.http),
    body ? createHash('sha256').update(body).digest('hex') : '',
    envelope.user?.user_id ?? null,
    sorted(envelope.context.config),
    [...(envelope.providers ?? [])].sort(),
  ];
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex');
}

function keyReused(key: string, state: 'done' | 'in-flight'): ServiceError {
  return new ServiceError(
    'idempotency_key_reused',
    `x-idempotency-key ${JSON.stringify(key)} was first used for a different request (${state === 'done' ? 'answered' : 'still running'}); use a new key for a new request`,
  );
}

function stringValues(config: Record<string, string | number | boolean> | undefined): Record<string, string> {
  return Object.fromEntries(Object.entries(config ?? {}).map(([k, v]) => [k, String(v)]));
}

/** Both gateway variants: the user's client is `client_name` or `company_name`. */
function userOf(user: ExecuteEnvelope['user']): ExecutionUser | null {
  if (!user) return null;
  return {
    userId: user.user_id,
    userEmail: user.user_email,
    userName: user.user_name,
    userType: user.user_type,
    clientName: user.client_name ?? user.company_name ?? '',
    clientId: user.client_id ?? null,
    additionalFields: stringValues(user.additional_fields ?? undefined),
  };
}
