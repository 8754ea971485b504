/**
 * The soak section of `npm run bench` (`--only soak`): `alga-runner serve` under steady load for
 * 10 minutes (1 with `--quick`), measured in consecutive windows. Each window runs 16 keep-alive
 * clients of the kitchen-sink's `/seven` (seven host calls, one storage write, one log line) and
 * reports the service's RSS at its end and the latency of its successful requests. The first window
 * is the baseline the others are compared with, in the same run: a leak shows as RSS that keeps
 * rising, a slow-down as a p99 that keeps rising.
 */
import { mkdirSync, mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { kitchenSinkBytes } from './guests.js';
import { progress, type BenchConfig, type SectionResult } from './results.js';
import { runLoad } from './service-load.js';
import { answerProblem } from './service.js';
import { executeRequest, installKitchenSink, startRunnerService } from './service-server.js';
import { summarize } from './stats.js';

export interface SoakWindow {
  /** seconds since the load started, at the window's end */
  atSeconds: number;
  requests: number;
  failed: number;
  p50Ms: number;
  p99Ms: number;
  rssMiB: number | null;
  /** the main thread's V8 heap in use, from the service's /metrics (guest workers have heaps of their own, in the RSS) */
  heapMiB: number | null;
}

export interface SoakResult extends SectionResult {
  soak: { windowSeconds: number; clients: number; windows: SoakWindow[]; command: string };
}

const CLIENTS = 16;
const FULL = { windows: 20, windowSeconds: 30 };
const QUICK = { windows: 6, windowSeconds: 10 };

export function isSoakResult(r: SectionResult): r is SoakResult {
  return 'soak' in r;
}

export async function runSoak(config: BenchConfig): Promise<SoakResult> {
  const plan = config.quick ? QUICK : FULL;
  const dir = mkdtempSync(join(config.workDir, 'soak-'));
  mkdirSync(join(dir, 'data'), { recursive: true });
  const service = await startRunnerService({ dataDir: join(dir, 'data'), workers: config.workers, logFile: join(dir, 'service.log') });
  try {
    progress('soak: installing the kitchen-sink');
    const install = await installKitchenSink(service, kitchenSinkBytes());
    const request = executeRequest(service, install, '/seven');
    const windows: SoakWindow[] = [];
    const started = performance.now();
    for (let i = 0; i < plan.windows; i++) {
      progress(`soak: window ${i + 1}/${plan.windows}`);
      const part = await runLoad({
        url: `${service.url}/v1/execute`,
        method: 'POST',
        headers: request.headers,
        body: request.body,
        connections: CLIENTS,
        durationSeconds: plan.windowSeconds,
        check: (text) => answerProblem('seven', text),
      });
      const latency = summarize(part.samples);
      const rss = service.rssBytes();
      const heap = await mainHeapBytes(service.url);
      windows.push({
        atSeconds: Math.round((performance.now() - started) / 1000),
        requests: part.samples.length,
        failed: Object.values(part.failures).reduce((n, v) => n + v, 0),
        p50Ms: latency.p50,
        p99Ms: latency.p99,
        rssMiB: rss === null ? null : rss / 2 ** 20,
        heapMiB: heap === null ? null : heap / 2 ** 20,
      });
    }
    return { section: 'soak', rows: [], facts: [], notes: [], soak: { windowSeconds: plan.windowSeconds, clients: CLIENTS, windows, command: service.command } };
  } finally {
    await service.stop();
  }
}

async function mainHeapBytes(url: string): Promise<number | null> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const m = /^alga_runner_process_nodejs_heap_size_used_bytes (\S+)$/m.exec(text);
  return m ? Number(m[1]) : null;
}

/** The report: every window against the first, then the last third against the first third. */
export function soakReport(result: SoakResult): string[] {
  const { windows, windowSeconds, clients, command } = result.soak;
  const first = windows[0];
  if (!first) return ['soak: no window ran'];
  const ratio = (a: number | null, b: number | null) => (a === null || b === null || b === 0 ? '   n/a' : `${(a / b).toFixed(2)}×`.padStart(6));
  const lines = [
    `Soak: ${windows.length} windows of ${windowSeconds} s, ${clients} clients of /seven against: ${command}`,
    'window  at (s)  requests  failed   p50 ms   p99 ms  p99/first   RSS MiB  RSS/first  main heap MiB',
  ];
  windows.forEach((w, i) => {
    lines.push(
      `${String(i + 1).padStart(6)}  ${String(w.atSeconds).padStart(6)}  ${String(w.requests).padStart(8)}  ${String(w.failed).padStart(6)}  ${w.p50Ms.toFixed(2).padStart(7)}  ${w.p99Ms.toFixed(2).padStart(7)}  ${ratio(w.p99Ms, first.p99Ms).padStart(9)}  ${(w.rssMiB?.toFixed(1) ?? 'n/a').padStart(8)}  ${ratio(w.rssMiB, first.rssMiB).padStart(9)}  ${(w.heapMiB?.toFixed(1) ?? 'n/a').padStart(13)}`,
    );
  });
  const third = Math.max(1, Math.floor(windows.length / 3));
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const early = windows.slice(0, third);
  const late = windows.slice(-third);
  const rssOf = (ws: SoakWindow[]) => (ws.every((w) => w.rssMiB !== null) ? median(ws.map((w) => w.rssMiB!)) : null);
  lines.push(
    `last third vs first third (medians): p99 ${ratio(median(late.map((w) => w.p99Ms)), median(early.map((w) => w.p99Ms))).trim()}, RSS ${ratio(rssOf(late), rssOf(early)).trim()}; failed requests: ${windows.reduce((n, w) => n + w.failed, 0)}`,
  );
  return lines;
}
