/**
 * Runs the store's due schedules (cap:scheduler.manage, store backend), as Alga's scheduled-job
 * handler does (Nine-Minds/alga-psa packages/jobs extensionScheduledInvocationHandler.ts): the
 * install's endpoint is executed through the executor like a gateway call — no user, the
 * schedule's JSON payload as the body of a POST (none for a GET), the install's config — and the
 * outcome kept as the schedule's last run: `error` with "Runner returned status N" for a guest
 * answer of 400 or more, the fault for a guest fault, else `success`.
 *
 * Exactly one run per due time across replicas: a process claims a due time with an update
 * conditional on it (StoreScheduler.claimDue), so of processes polling one database only one wins.
 * The execution's idempotency key and request id are `schedule:<id>:<due ms>` as well.
 *
 * Alga's policies: a disabled install is skipped (last run untouched); a schedule whose endpoint is
 * no longer in the installed version is disabled, with that as its last run's error.
 */
import type { FastifyBaseLogger } from 'fastify';
import type { Executor } from './executor.js';
import type { Runtime } from './runtime.js';
import type { ClaimedRun } from '../store/schedules.js';
import { manifestEndpoints } from '../store/schedules.js';
import { normalizeEndpointPath } from '../store/scheduler-model.js';

/** Schedules claimed per poll: the rest wait for the next poll. */
const CLAIM_BATCH = 20;

export class ScheduleRunner {
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private ticking: Promise<void> | null = null;
  private readonly running = new Set<Promise<void>>();
  /** a failing poll (the database away) is logged once, not every poll, until a poll succeeds again */
  private failing = false;

  constructor(
    private readonly runtime: Runtime,
    private readonly executor: Executor,
    private readonly log: FastifyBaseLogger,
    private readonly pollMs: number,
  ) {}

  start(): void {
    this.schedule();
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.ticking = this.tick()
        .then(() => {
          if (this.failing) this.log.info('schedule polls succeed again');
          this.failing = false;
        })
        .catch((e: unknown) => {
          if (!this.stopped && !this.failing) this.log.warn({ err: e }, 'schedule poll failed (logged once until one succeeds)');
          this.failing = true;
        })
        .finally(() => {
          this.ticking = null;
          this.schedule();
        });
    }, this.pollMs);
    this.timer.unref();
  }

  /** Claims the due schedules and starts their runs; resolves once they are claimed. */
  async tick(now = Date.now()): Promise<void> {
    const claimed = await this.runtime.scheduleStore.claimDue(now, CLAIM_BATCH);
    for (const run of claimed) {
      const p = this.run(run).finally(() => this.running.delete(p));
      this.running.add(p);
    }
  }

  private async run(claimed: ClaimedRun): Promise<void> {
    const { scheduleStore, store } = this.runtime;
    const key = `schedule:${claimed.scheduleId}:${claimed.dueAt}`;
    const context = { schedule_id: claimed.scheduleId, install_id: claimed.installId, due_at: new Date(claimed.dueAt).toISOString(), request_id: key };
    try {
      const install = await store.registry.getInstall(claimed.installId);
      if (!install || !install.enabled) {
        this.log.info(context, 'scheduled run skipped: install disabled or gone');
        return;
      }
      const version = await store.registry.getVersion(install.versionId);
      const endpoint = version && manifestEndpoints(version.manifest).find((e) => e.method === claimed.method && normalizeEndpointPath(e.path) === claimed.path);
      if (!endpoint) {
        await scheduleStore.disableBroken(claimed.scheduleId, Date.now(), 'Schedule endpoint not found; disabling schedule');
        this.log.warn(context, 'scheduled run: endpoint gone, schedule disabled');
        return;
      }
      const body = claimed.method === 'GET' || claimed.payload === null ? undefined : Buffer.from(claimed.payload, 'utf8').toString('base64');
      const answer = await this.executor.execute(
        {
          context: { request_id: key, tenant_id: install.tenantId, extension_id: install.extensionId, install_id: install.id, version_id: install.versionId, config: install.config },
          http: {
            method: claimed.method,
            path: claimed.path,
            query: {},
            headers: { 'x-alga-tenant': install.tenantId, 'x-alga-extension': install.extensionId, ...(body ? { 'content-type': 'application/json' } : {}) },
            body_b64: body,
          },
        },
        key,
      );
      const error = answer.error ? `${answer.error}${answer.message ? `: ${answer.message}` : ''}` : answer.status >= 400 ? `Runner returned status ${answer.status}` : null;
      await scheduleStore.recordRun(claimed.scheduleId, { at: Date.now(), status: error ? 'error' : 'success', error });
      this.log.info({ ...context, status: answer.status, outcome: error ? 'error' : 'success' }, 'scheduled run');
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      await scheduleStore.recordRun(claimed.scheduleId, { at: Date.now(), status: 'error', error: message }).catch(() => undefined);
      this.log.warn({ ...context, err: e }, 'scheduled run failed');
    }
  }

  /** Stops polling and waits for the runs under way (call before the executor drains). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.ticking;
    await Promise.all([...this.running]);
  }
}
