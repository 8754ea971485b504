/** Prometheus metrics of the service (`GET /metrics`), one registry per service instance. */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { CapabilityCallObserver } from '../capabilities/registry.js';
import type { EngineApi } from '../engine/api.js';
import type { AdmissionLimiter } from './admission.js';

export class ServiceMetrics {
  readonly registry = new Registry();
  readonly executions = new Counter({ name: 'alga_runner_executions_total', help: 'Executions by outcome (ok or a fault code)', labelNames: ['outcome'], registers: [this.registry] });
  readonly executionSeconds = new Histogram({
    name: 'alga_runner_execution_duration_seconds',
    help: 'Execution wall time, engine boundary',
    labelNames: ['outcome'],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  readonly queueDepth = new Gauge({ name: 'alga_runner_queue_depth', help: 'Executions waiting for a slot (admission queues)', registers: [this.registry] });
  readonly inFlight = new Gauge({ name: 'alga_runner_executions_in_flight', help: 'Executions running now', registers: [this.registry] });
  readonly rejected = new Counter({ name: 'alga_runner_rejected_total', help: 'Requests refused by backpressure', labelNames: ['reason'], registers: [this.registry] });
  readonly capabilityCalls = new Counter({ name: 'alga_runner_capability_calls_total', help: 'Host capability calls', labelNames: ['capability', 'function', 'outcome'], registers: [this.registry] });
  readonly capabilitySeconds = new Histogram({
    name: 'alga_runner_capability_call_duration_seconds',
    help: 'Host capability call latency (main thread)',
    labelNames: ['capability'],
    buckets: [0.00001, 0.00005, 0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
    registers: [this.registry],
  });
  readonly storeConnectionErrors = new Counter({
    name: 'alga_runner_store_connection_errors_total',
    help: 'PostgreSQL connections that broke (server restarted or unreachable); the pool opens new ones',
    registers: [this.registry],
  });
  readonly probations = new Counter({
    name: 'alga_runner_install_probations_total',
    help: "Installs put on probation after repeated costly faults (deadline, worker crash, memory limit): one execution at a time, started after other tenants' work",
    registers: [this.registry],
  });
  readonly idempotencyPurged = new Counter({
    name: 'alga_runner_idempotency_records_purged_total',
    help: 'Expired idempotency records deleted by the scheduled purge (RUNNER_IDEMPOTENCY_PURGE_INTERVAL_MS)',
    registers: [this.registry],
  });
  readonly changeFeedResyncs = new Counter({
    name: 'alga_runner_change_feed_resyncs_total',
    help: 'Times this replica dropped everything it caches about installs because change notifications may have been missed (reconnected, missed = the re-check found an unheard change, recheck-failed)',
    labelNames: ['reason'],
    registers: [this.registry],
  });
  readonly workerRestarts = new Counter({ name: 'alga_runner_worker_restarts_total', help: 'Workers replaced after a timeout or crash', labelNames: ['reason'], registers: [this.registry] });
  readonly guestInstances = new Counter({
    name: 'alga_runner_guest_instances_total',
    help: 'Executions by how their guest instance was had: new (instantiated on the request path: a cold start), restored (a pristine snapshot), reused (reuse mode)',
    labelNames: ['source'],
    registers: [this.registry],
  });
  readonly componentFetches = new Counter({
    name: 'alga_runner_component_fetches_total',
    help: 'Components this process fetched from the component store because it had none prepared, by outcome: prepared, not_found, unavailable, hash_mismatch, refused, ui_only (the managed mode: a UI-only bundle, nothing to prepare)',
    labelNames: ['outcome'],
    registers: [this.registry],
  });
  readonly warmFailures = new Counter({
    name: 'alga_runner_warm_failures_total',
    help: 'Warm-ups of installed versions at start that failed, by reason (a fault code or an error code)',
    labelNames: ['reason'],
    registers: [this.registry],
  });
  readonly guestMemory = new Histogram({
    name: 'alga_runner_guest_memory_bytes',
    help: 'Guest linear memory at the end of an execution',
    buckets: [1, 4, 8, 16, 32, 64, 128, 256, 512, 1024].map((mb) => mb * 2 ** 20),
    registers: [this.registry],
  });

  /** Per-install execution metrics, null unless the operator set a label bound (RUNNER_METRICS_INSTALL_LABELS). */
  private readonly perInstall: { executions: Counter; seconds: Histogram; labels: InstallLabels } | null;

  constructor(options: { installLabels?: number } = {}) {
    collectDefaultMetrics({ register: this.registry, prefix: 'alga_runner_process_' });
    const bound = options.installLabels ?? 0;
    this.perInstall =
      bound > 0
        ? {
            labels: new InstallLabels(bound),
            executions: new Counter({
              name: 'alga_runner_install_executions_total',
              help: `Executions by extension, install and outcome; installs past the first ${bound} seen (RUNNER_METRICS_INSTALL_LABELS) count under extension="other", install="other"`,
              labelNames: ['extension', 'install', 'outcome'],
              registers: [this.registry],
            }),
            seconds: new Histogram({
              name: 'alga_runner_install_execution_duration_seconds',
              help: 'Execution wall time (engine boundary) by extension and install, bounded as alga_runner_install_executions_total',
              labelNames: ['extension', 'install'],
              buckets: [0.001, 0.005, 0.025, 0.1, 0.5, 2.5, 10],
              registers: [this.registry],
            }),
          }
        : null;
  }

  /** One finished execution: the service-wide metrics, and the per-install ones when configured. */
  observeExecution(install: { id: string; extensionId: string }, outcome: string, seconds: number): void {
    this.executions.inc({ outcome });
    this.executionSeconds.observe({ outcome }, seconds);
    if (!this.perInstall) return;
    const labels = this.perInstall.labels.of(install.id, install.extensionId);
    this.perInstall.executions.inc({ ...labels, outcome });
    this.perInstall.seconds.observe(labels, seconds);
  }

  /** The change feed (src/store/change-feed.ts): notifications heard, and whether its LISTEN connection is up. */
  observeChangeFeed(stats: Readonly<{ notifications: number; listening: boolean }>): void {
    new Counter({
      name: 'alga_runner_change_feed_notifications_total',
      help: "Change notifications this replica heard over PostgreSQL LISTEN (its own and other replicas' install changes and log appends)",
      registers: [this.registry],
      collect() {
        this.reset();
        this.inc(stats.notifications);
      },
    });
    new Gauge({
      name: 'alga_runner_change_feed_listening',
      help: "PostgreSQL: 1 while the LISTEN connection for other replicas' changes is open (0: reconnecting, or not listening)",
      registers: [this.registry],
      collect() {
        this.set(stats.listening ? 1 : 0);
      },
    });
  }

  /** Installs on probation now (src/engine/fair-scheduler.ts). */
  observePenalised(count: () => number): void {
    new Gauge({
      name: 'alga_runner_installs_on_probation',
      help: 'Installs on probation now',
      registers: [this.registry],
      collect() {
        this.set(count());
      },
    });
  }

  /** The main thread's hot wait (worker-pool.ts) spins on a free core: its time is worth seeing. */
  observeHotWait(stats: EngineApi['hotWaitStats']): void {
    let reported = 0;
    new Counter({
      name: 'alga_runner_hot_wait_seconds_total',
      help: 'Main-thread time spent watching running workers for their next message (spinning, or waiting on a futex) instead of in the event loop',
      registers: [this.registry],
      collect() {
        this.inc(stats.spentMs / 1000 - reported);
        reported = stats.spentMs / 1000;
      },
    });
  }

  /**
   * Where the per-tenant limits hold: `alga_runner_admission_scope{limiter, scope}` is 1 for the
   * current scope (`replica`: counted in this process; `global`: shared through Redis) and 0 for the
   * other. A Redis limiter that cannot reach Redis says `replica`; its fallbacks are counted.
   */
  observeAdmission(limiter: AdmissionLimiter & { fallbacks?: number }): void {
    const kind = limiter.fallbacks === undefined ? 'local' : 'redis';
    new Gauge({
      name: 'alga_runner_admission_scope',
      help: 'Where the per-tenant concurrency and queue limits hold (1 = now): replica (this process only) or global (every replica, through Redis); limiter says which is configured',
      labelNames: ['limiter', 'scope'],
      registers: [this.registry],
      collect() {
        const scope = limiter.scope;
        this.set({ limiter: kind, scope: 'replica' }, scope === 'replica' ? 1 : 0);
        this.set({ limiter: kind, scope: 'global' }, scope === 'global' ? 1 : 0);
      },
    });
    if (kind === 'local') return;
    let reported = 0;
    new Counter({
      name: 'alga_runner_admission_fallbacks_total',
      help: 'Admissions this replica decided with its own per-replica limits because the limiter could not reach Redis',
      registers: [this.registry],
      collect() {
        const now = limiter.fallbacks ?? 0;
        this.inc(now - reported);
        reported = now;
      },
    });
  }

  readonly capabilityObserver: CapabilityCallObserver = {
    onCall: (capability, fn, outcome, seconds) => {
      this.capabilityCalls.inc({ capability, function: fn, outcome });
      this.capabilitySeconds.observe({ capability }, seconds);
    },
  };
}

/**
 * The label bound: the first `max` installs seen keep their own extension/install labels for the
 * life of the process; any other is `other`, so a runner with many installs cannot blow up the
 * series count (at most max + 1 label pairs, times the outcomes).
 */
export class InstallLabels {
  private readonly named = new Map<string, { extension: string; install: string }>();
  constructor(private readonly max: number) {}

  of(installId: string, extensionId: string): { extension: string; install: string } {
    const known = this.named.get(installId);
    if (known) return known;
    if (this.named.size >= this.max) return OTHER;
    const labels = { extension: extensionId, install: installId };
    this.named.set(installId, labels);
    return labels;
  }
}

const OTHER = Object.freeze({ extension: 'other', install: 'other' });
