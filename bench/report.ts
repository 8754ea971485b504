/** Turns the sections' results into the printed table, the ratios and the target verdicts. */
import type { Fact, HandlerName, Row, SectionResult } from './results.js';

export const SYSTEMS = {
  ours: 'ours',
  oursSqliteNormal: 'ours, SQLite synchronous=NORMAL',
  oursSqliteNormalRoundTrips: 'ours, SQLite NORMAL, no worker reads',
  oursMemory: 'ours, in-memory caps',
  oursMemoryRoundTrips: 'ours, in-memory, no worker reads',
  floor: 'floor (warm, no isolation)',
  floorRestore: 'floor + snapshot restore',
  ivmSync: 'isolated-vm, fresh Context (sync)',
  ivmAsync: 'isolated-vm, fresh Context (async)',
  naive: 'naive (jco default, fresh import)',
} as const;

const ORDER: string[] = Object.values(SYSTEMS);

export interface Verdict {
  target: string;
  measured: string;
  pass: boolean | null;
}

const fmt = (v: number, digits = 2) => (Number.isFinite(v) ? v.toFixed(digits) : 'n/a');
const pad = (s: string, n: number) => s.padEnd(n);
const lpad = (s: string, n: number) => s.padStart(n);

export class Report {
  readonly rows: Row[];
  readonly facts: Fact[];
  readonly notes: string[];

  constructor(results: SectionResult[]) {
    this.rows = results.flatMap((r) => r.rows);
    this.facts = results.flatMap((r) => r.facts);
    this.notes = results.flatMap((r) => r.notes);
  }

  row(system: string, handler: HandlerName): Row | undefined {
    return this.rows.find((r) => r.system === system && r.handler === handler);
  }

  fact(key: string): Fact | undefined {
    return this.facts.find((f) => f.key === key);
  }

  /** The "ours" row a baseline is compared with: the in-memory capabilities for /seven (like for like). */
  reference(handler: HandlerName): Row | undefined {
    return handler === 'seven' ? this.row(SYSTEMS.oursMemory, handler) : this.row(SYSTEMS.ours, handler);
  }

  table(): string[] {
    const header = `${pad('handler', 8)} ${pad('system', 36)} ${lpad('p50 ms', 9)} ${lpad('p99 ms', 9)} ${lpad('req/s', 9)} ${lpad('in flight', 9)} ${lpad('ours÷this req/s', 16)} ${lpad('this÷ours p50', 14)}`;
    const lines = [header, '-'.repeat(header.length)];
    for (const handler of ['noop', 'seven', 'context'] as HandlerName[]) {
      const ref = this.reference(handler);
      const rows = this.rows.filter((r) => r.handler === handler).sort((a, b) => ORDER.indexOf(a.system) - ORDER.indexOf(b.system));
      for (const r of rows) {
        const rps = ref ? ref.throughput.perSecond / r.throughput.perSecond : Number.NaN;
        const p50 = ref ? r.latency.p50 / ref.latency.p50 : Number.NaN;
        lines.push(
          `${pad(handler, 8)} ${pad(r.system, 36)} ${lpad(fmt(r.latency.p50, 3), 9)} ${lpad(fmt(r.latency.p99, 3), 9)} ${lpad(fmt(r.throughput.perSecond, 0), 9)} ${lpad(String(r.throughput.concurrency), 9)} ${lpad(r === ref ? '(ref)' : `${fmt(rps, 2)}×`, 16)} ${lpad(r === ref ? '(ref)' : `${fmt(p50, 2)}×`, 14)}`,
        );
      }
    }
    return lines;
  }

  factLines(): string[] {
    return [...this.facts, ...this.derivedFacts()].map((f) => `${pad(f.label, 110)} ${lpad(fmt(f.value, f.unit === 'µs' ? 1 : 2), 9)} ${f.unit}${f.detail ? `  (${f.detail})` : ''}`);
  }

  /**
   * The kitchen-sink's cost per host call without any bridge: (/seven − /noop) ÷ 7 on the main
   * thread with a restore after each request. The "by difference" figures through the engine
   * include it — the guest's own work around each call (building and parsing its arguments and
   * JSON) — so they cannot go below it; the bridge's round trip is measured directly instead.
   */
  private derivedFacts(): Fact[] {
    const seven = this.row(SYSTEMS.floorRestore, 'seven');
    const noop = this.row(SYSTEMS.floorRestore, 'noop');
    if (!seven || !noop) return [];
    const value = ((seven.latency.p50 - noop.latency.p50) / 7) * 1000;
    return [{ key: 'floor.seven.per-call', label: "floor + restore: per host call of /seven without a bridge ((/seven − /noop p50) ÷ 7; the guest's own work per call)", value, unit: 'µs' }];
  }

  verdicts(): Verdict[] {
    const out: Verdict[] = [];
    const at = (target: string, value: number | undefined, limit: number, unit: string, better: 'below' | 'above', extra = '') => {
      if (value === undefined || !Number.isFinite(value)) {
        out.push({ target, measured: 'not measured', pass: null });
        return;
      }
      out.push({ target, measured: `${fmt(value, unit === 'µs' ? 1 : 2)} ${unit}${extra}`, pass: better === 'below' ? value <= limit : value >= limit });
    };
    const ours = (h: HandlerName) => this.row(SYSTEMS.ours, h);
    const mem = (h: HandlerName) => this.row(SYSTEMS.oursMemory, h);
    at('no-op p50 ≤ 0.6 ms (engine boundary)', ours('noop')?.latency.p50, 0.6, 'ms', 'below');
    at('no-op p99 ≤ 3 ms (engine boundary)', ours('noop')?.latency.p99, 3, 'ms', 'below');
    at('7-call p50 ≤ 1.5 ms (real SQLite capabilities)', ours('seven')?.latency.p50, 1.5, 'ms', 'below');
    at('7-call p50 ≤ 1.5 ms (in-memory capabilities)', mem('seven')?.latency.p50, 1.5, 'ms', 'below');
    for (const handler of ['noop', 'seven'] as HandlerName[]) {
      const ref = this.reference(handler);
      const naive = this.row(SYSTEMS.naive, handler);
      at(`req/s ≥ 100× naive (/${handler})`, ref && naive ? ref.throughput.perSecond / naive.throughput.perSecond : undefined, 100, '×', 'above');
      const ivm = [this.row(SYSTEMS.ivmSync, handler), this.row(SYSTEMS.ivmAsync, handler)].filter((r): r is Row => r !== undefined);
      const best = ivm.sort((a, b) => b.throughput.perSecond - a.throughput.perSecond)[0];
      at(
        `req/s ≥ isolated-vm fresh Context (/${handler}, its best mode)`,
        ref && best ? ref.throughput.perSecond / best.throughput.perSecond : undefined,
        1,
        '×',
        'above',
        best && ref ? ` (${fmt(ref.throughput.perSecond, 0)} vs ${fmt(best.throughput.perSecond, 0)} req/s)` : '',
      );
    }
    at('host-call round trip p50 ≤ 25 µs (direct, WAT guest)', this.fact('bridge.direct.p50')?.value, 25, 'µs', 'below');
    for (const [key, what] of [
      ['cold.first', 'after a restart: fresh process, artifact on disk'],
      ['cold.running', 'installed in a running process, not warmed'],
      ['cold.warmed', 'installed in a running process, warmed as the service does'],
    ] as const) {
      const colds = this.facts
        .filter((f) => f.key === key)
        .map((f) => f.value)
        .sort((a, b) => a - b);
      const median = colds.length ? colds[Math.floor((colds.length - 1) / 2)] : undefined;
      at(`cold start ≤ 300 ms (first request, 12 MB component; ${what})`, median, 300, 'ms', 'below', colds.length > 1 ? ` (median of ${colds.map((c) => fmt(c, 0)).join(', ')})` : '');
    }
    return out;
  }

  verdictLines(): string[] {
    return this.verdicts().map((v) => `${pad(v.pass === null ? 'n/a' : v.pass ? 'PASS' : 'MISS', 5)} ${pad(v.target, 78)} ${v.measured}`);
  }
}
