/**
 * The service part of the printed report: service rows beside the engine-level rows of the same
 * run, the derived "HTTP + envelope" overhead, where the time goes, and the service's targets.
 */
import type { LoadRow, ServicePath, ServiceSectionResult, ServiceTarget } from './service-results.js';
import type { Verdict } from './report.js';

const LABELS: Record<ServicePath, string> = {
  engine: 'engine (Engine.execute, SQLite caps)',
  service: 'service (POST /v1/execute over HTTP)',
  'http-floor': 'HTTP floor (GET /healthz, no guest)',
};

const OVERHEAD_TARGET_MS = 0.5;
const NOOP_RPS_TARGET = 1500;

const fmt = (v: number | null | undefined, digits = 2) => (v !== null && v !== undefined && Number.isFinite(v) ? v.toFixed(digits) : 'n/a');
const pad = (s: string, n: number) => s.padEnd(n);
const lpad = (s: string, n: number) => s.padStart(n);
/** CPU time the serving process spent per successful request (all its threads). */
const cpuPerRequest = (r: LoadRow) => (r.cpu.server === null ? 'n/a' : `${fmt((r.cpu.server * 1000) / r.perSecond, 2)} ms`);
const failedCount = (r: LoadRow) => Object.values(r.failures).reduce((n, v) => n + v, 0);

export class ServiceReport {
  readonly rows: LoadRow[];
  readonly notes: string[];

  constructor(
    results: ServiceSectionResult[],
    private readonly cores: number,
  ) {
    this.rows = results.flatMap((r) => r.service.rows);
    this.notes = results.flatMap((r) => r.service.notes);
  }

  row(path: ServicePath, target: ServiceTarget, clients: number): LoadRow | undefined {
    return this.rows.find((r) => r.path === path && r.target === target && r.clients === clients);
  }

  /** service p50 − engine p50 at 1 client: what HTTP, the envelope and the executor add. */
  overhead(target: ServiceTarget): number | undefined {
    const service = this.row('service', target, 1);
    const engine = this.row('engine', target, 1);
    return service && engine ? service.latency.p50 - engine.latency.p50 : undefined;
  }

  table(): string[] {
    const header = `${pad('handler', 8)} ${pad('measured at', 38)} ${lpad('clients', 7)} ${lpad('p50 ms', 8)} ${lpad('p99 ms', 8)} ${lpad('req/s', 7)} ${lpad('ok', 7)} ${lpad('failed', 6)} ${lpad('server cores', 12)} ${lpad('loadgen cores', 13)} ${lpad('svc−eng p50', 11)} ${lpad('svc÷eng req/s', 13)}`;
    const lines = [header, '-'.repeat(header.length)];
    const order: ServicePath[] = ['engine', 'service', 'http-floor'];
    for (const target of ['noop', 'seven', 'healthz'] as ServiceTarget[]) {
      const rows = this.rows.filter((r) => r.target === target).sort((a, b) => a.clients - b.clients || order.indexOf(a.path) - order.indexOf(b.path));
      for (const r of rows) {
        const engine = r.path === 'service' ? this.row('engine', target, r.clients) : undefined;
        lines.push(
          `${pad(target, 8)} ${pad(LABELS[r.path], 38)} ${lpad(String(r.clients), 7)} ${lpad(fmt(r.latency.p50, 3), 8)} ${lpad(fmt(r.latency.p99, 3), 8)} ${lpad(fmt(r.perSecond, 0), 7)} ${lpad(String(r.requests), 7)} ${lpad(String(failedCount(r)), 6)} ${lpad(fmt(r.cpu.server), 12)} ${lpad(fmt(r.cpu.generator), 13)} ${lpad(engine ? `+${fmt(r.latency.p50 - engine.latency.p50, 3)} ms` : '', 11)} ${lpad(engine ? `${fmt(r.perSecond / engine.perSecond)}×` : '', 13)}`,
        );
      }
    }
    return lines;
  }

  /** The 1-client p50 split into engine, HTTP floor and the rest; throughput beside its floors. */
  breakdownLines(): string[] {
    const lines: string[] = [];
    const floor1 = this.row('http-floor', 'healthz', 1);
    const floor32 = this.row('http-floor', 'healthz', 32);
    for (const target of ['noop', 'seven'] as ServiceTarget[]) {
      const service = this.row('service', target, 1);
      const engine = this.row('engine', target, 1);
      const overhead = this.overhead(target);
      if (service && engine && overhead !== undefined) {
        const rest = floor1
          ? ` = HTTP round trip on this server (GET /healthz p50) ${fmt(floor1.latency.p50, 3)} ms + the rest ${fmt(overhead - floor1.latency.p50, 3)} ms (envelope and executor work, and the service's main thread, its worker and the load generator sharing the cores)`
          : '';
        lines.push(`/${target}, 1 client, p50: service ${fmt(service.latency.p50, 3)} ms = engine ${fmt(engine.latency.p50, 3)} ms + HTTP and envelope ${fmt(overhead, 3)} ms${rest}`);
      }
      const service32 = this.row('service', target, 32);
      const engine32 = this.row('engine', target, 32);
      if (service32 && engine32) {
        lines.push(
          `/${target}, 32 clients: service ${fmt(service32.perSecond, 0)} req/s, ${cpuPerRequest(service32)} of server CPU each (load generator ${fmt(service32.cpu.generator)} cores) vs engine ${fmt(engine32.perSecond, 0)} req/s with 32 in flight, ${cpuPerRequest(engine32)} each` +
            (floor32 ? `; HTTP alone (GET /healthz) ${fmt(floor32.perSecond, 0)} req/s, ${cpuPerRequest(floor32)} each` : ''),
        );
      }
    }
    return lines;
  }

  failureLines(): string[] {
    const lines: string[] = [];
    for (const r of this.rows) {
      for (const [what, count] of Object.entries(r.failures)) lines.push(`${r.path} /${r.target} ${r.clients} client(s): ${count} × ${what}`);
    }
    return lines;
  }

  verdicts(): Verdict[] {
    const out: Verdict[] = [];
    for (const target of ['noop', 'seven'] as ServiceTarget[]) {
      const overhead = this.overhead(target);
      out.push({
        target: `HTTP + envelope overhead ≤ ${OVERHEAD_TARGET_MS} ms p50 (/${target}, service − engine, 1 client)`,
        measured: overhead === undefined ? 'not measured' : `${fmt(overhead, 3)} ms`,
        pass: overhead === undefined ? null : overhead <= OVERHEAD_TARGET_MS,
      });
    }
    const noop32 = this.row('service', 'noop', 32);
    out.push({
      target: `no-op ≥ ${NOOP_RPS_TARGET} req/s at 32 clients on 2 cores (this machine: ${this.cores})`,
      measured: noop32 ? `${fmt(noop32.perSecond, 0)} req/s` : 'not measured',
      pass: noop32 ? noop32.perSecond >= NOOP_RPS_TARGET : null,
    });
    const measured = this.rows.filter((r) => r.path !== 'http-floor');
    const failed = measured.reduce((n, r) => n + failedCount(r), 0);
    const total = measured.reduce((n, r) => n + r.requests, 0) + failed;
    out.push({
      target: 'every answer transport 200 with the guest status 200 (/seven: all seven calls ok)',
      measured: measured.length ? `${failed} failed of ${total}` : 'not measured',
      pass: measured.length ? failed === 0 : null,
    });
    return out;
  }

  verdictLines(): string[] {
    return this.verdicts().map((v) => `${pad(v.pass === null ? 'n/a' : v.pass ? 'PASS' : 'MISS', 5)} ${pad(v.target, 78)} ${v.measured}`);
  }
}
