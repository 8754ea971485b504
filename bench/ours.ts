/**
 * Ours: requests through the engine boundary — `Engine.execute`, worker pool, sync host bridge,
 * fresh-instance semantics by snapshot restore. Sequential latency after a warm-up, then
 * throughput with as many requests in flight as there are workers.
 *
 * Per-phase figures come from the engine's own execution report (time spent inside the worker on
 * the guest, host calls included) and from the registry's call observer (time in the capability
 * functions themselves), measured per sequential request.
 */
import { checkSevenBody, httpRequest, kitchenSinkBytes } from './guests.js';
import type { ExecuteOutcome } from '../src/engine/api.js';
import { createBenchEngine, responseBody, type CapabilityBackend } from './engine-runtime.js';
import { emptyResult, progress, type BenchConfig, type HandlerName, type SectionResult } from './results.js';
import { WARM_UP, describeWarmUp, measureThroughput, summarize, warmUntilSteady } from './stats.js';
import { SYSTEMS } from './report.js';

export async function runOurs(config: BenchConfig, backend: CapabilityBackend): Promise<SectionResult> {
  const system = {
    sqlite: SYSTEMS.ours,
    'sqlite-normal': SYSTEMS.oursSqliteNormal,
    'sqlite-normal-round-trips': SYSTEMS.oursSqliteNormalRoundTrips,
    memory: SYSTEMS.oursMemory,
    'memory-round-trips': SYSTEMS.oursMemoryRoundTrips,
  }[backend];
  const result = emptyResult(`ours-${backend}`);
  let hostFnMs = 0;
  /** per capability function: its own time on each call, collected during the sequential /seven run */
  let perFunction: Map<string, number[]> | null = null;
  const rt = await createBenchEngine(config, backend, {
    onCall: (capability, fn, _outcome, seconds) => {
      hostFnMs += seconds * 1000;
      if (!perFunction) return;
      const key = `${capability} ${fn}`;
      // appended in place: copying the array on every call made garbage quadratic in the run's
      // length on the main thread being measured
      let samples = perFunction.get(key);
      if (!samples) perFunction.set(key, (samples = []));
      samples.push(seconds * 1000);
    },
  });
  try {
    // A fault is an engine result worth reporting, not a reason to lose the run: faulted requests are
    // counted (and named in the report) and left out of the latency samples.
    const faults = new Map<string, number>();
    const counted = (handler: HandlerName, outcome: ExecuteOutcome): boolean => {
      if (outcome.kind === 'ok') return true;
      const key = `/${handler}: ${outcome.code}: ${outcome.message}`;
      faults.set(key, (faults.get(key) ?? 0) + 1);
      return false;
    };
    progress('install');
    const hash = await rt.install(kitchenSinkBytes());
    // the NORMAL store differs from the default only in its commits: /seven (one storage.put) shows it
    const handlersOf: Record<CapabilityBackend, HandlerName[]> = {
      sqlite: ['noop', 'context', 'seven'],
      'sqlite-normal': ['seven'],
      'sqlite-normal-round-trips': ['seven'],
      memory: ['noop', 'seven'],
      'memory-round-trips': ['seven'],
    };
    const handlers = handlersOf[backend];
    const n = config.quick ? { seq: 300, tput: 600 } : { seq: 1000, tput: 2000 };
    const warmUp = config.quick ? WARM_UP.quick : WARM_UP.full;

    // Warm-up with every worker busy, so each has the guest loaded and its snapshot taken, until
    // the compiled code has settled (see warmUntilSteady).
    for (const handler of handlers) {
      progress(`warm-up /${handler}`);
      const first = await rt.execute(hash, httpRequest(handler));
      const body = responseBody(first, `${system} /${handler}`);
      if (handler === 'seven') checkSevenBody(system, body);
      const warm = await warmUntilSteady(warmUp, config.workers, async () => counted(handler, await rt.execute(hash, httpRequest(handler))));
      result.notes.push(describeWarmUp(`${system} /${handler}`, warm));
    }

    const guestP50: Partial<Record<HandlerName, number>> = {};
    const latencies: Partial<Record<HandlerName, number[]>> = {};
    for (const handler of handlers) {
      const request = httpRequest(handler);
      const latency: number[] = [];
      const guestMs: number[] = [];
      const hostMs: number[] = [];
      const outsideMs: number[] = [];
      const restored = { yes: 0, no: 0 };
      if (handler === 'seven') perFunction = new Map();
      progress(`sequential /${handler}`);
      for (let i = 0; i < n.seq; i++) {
        hostFnMs = 0;
        const started = performance.now();
        const outcome = await rt.execute(hash, request);
        const elapsed = performance.now() - started;
        if (!counted(handler, outcome) || outcome.kind !== 'ok') continue;
        latency.push(elapsed);
        const inWorker = outcome.report.stats?.guestMs ?? Number.NaN;
        guestMs.push(inWorker);
        hostMs.push(hostFnMs);
        outsideMs.push(elapsed - inWorker);
        if (outcome.report.stats?.instance === 'restored') restored.yes++;
        else restored.no++;
      }
      latencies[handler] = latency;
      for (const [key, samples] of perFunction ?? []) {
        result.facts.push({ key: `${backend}.seven.fn.${key}`, label: `${system} /seven: ${key} (capability function alone) p50`, value: summarize(samples).p50 * 1000, unit: 'µs' });
      }
      perFunction = null;
      progress(`throughput /${handler}`);
      // the SQLite-backed /seven is an order of magnitude slower: fewer requests keep the run bounded
      const tputCount = backend !== 'memory' && handler === 'seven' ? Math.ceil(n.tput / 2) : n.tput;
      const throughput = await measureThroughput(tputCount, config.workers, async () => {
        counted(handler, await rt.execute(hash, request));
      });
      result.rows.push({ system, handler, latency: summarize(latency), throughput, note: `${restored.yes} of ${n.seq} sequential requests served by snapshot restore` });
      const g = summarize(guestMs).p50;
      guestP50[handler] = g;
      result.facts.push(
        { key: `${backend}.${handler}.phase.guest`, label: `${system} /${handler}: in the worker (instance + guest + host calls) p50`, value: g, unit: 'ms' },
        {
          key: `${backend}.${handler}.phase.outside`,
          label: `${system} /${handler}: outside the guest call (dispatch, messages, restore of the previous request) p50`,
          value: summarize(outsideMs).p50,
          unit: 'ms',
        },
      );
      if (handler !== 'noop') {
        result.facts.push({
          key: `${backend}.${handler}.phase.hostfn`,
          label: `${system} /${handler}: inside the capability functions (sum per request) p50`,
          value: summarize(hostMs).p50,
          unit: 'ms',
        });
      }
    }
    if (backend === 'memory') {
      // Same sequential requests, but each starts after a 2 ms pause: the worker has finished
      // restoring the previous request's snapshot by then, so the difference to the back-to-back
      // p50 is the restore time that sits on the next request's critical path.
      const pause = () => new Promise<void>((resolve) => setTimeout(resolve, 2));
      for (const handler of handlers) {
        const request = httpRequest(handler);
        const spaced: number[] = [];
        for (let i = 0; i < Math.ceil(n.seq / 4); i++) {
          await pause();
          const started = performance.now();
          const outcome = await rt.execute(hash, request);
          if (counted(handler, outcome)) spaced.push(performance.now() - started);
        }
        const s = summarize(spaced);
        result.facts.push({
          key: `${backend}.${handler}.spaced.p50`,
          label: `${system} /${handler}: p50 with a 2 ms pause before each request (restore off the critical path)`,
          value: s.p50,
          unit: 'ms',
          detail: `p99 ${s.p99.toFixed(2)} ms`,
        });
      }
    }

    const seven = guestP50.seven;
    const noop = guestP50.noop;
    if (seven !== undefined && noop !== undefined && latencies.seven && latencies.noop) {
      // difference method at the engine boundary: each /seven request minus the /noop median, ÷ 7
      const noopP50 = summarize(latencies.noop).p50;
      const perCall = summarize(latencies.seven.map((ms) => ((ms - noopP50) / 7) * 1000));
      result.facts.push(
        { key: `${backend}.seven.per-call.p50`, label: `${system}: host-call round trip by difference ((/seven − /noop p50) ÷ 7) p50`, value: perCall.p50, unit: 'µs' },
        { key: `${backend}.seven.per-call.p99`, label: `${system}: host-call round trip by difference ((/seven − /noop p50) ÷ 7) p99`, value: perCall.p99, unit: 'µs' },
      );
      result.facts.push({
        key: `${backend}.seven.per-call-in-worker`,
        label: `${system}: per host call, worker-side ((guest p50 /seven − /noop) ÷ 7, capability time included)`,
        value: ((seven - noop) / 7) * 1000,
        unit: 'µs',
      });
    }
    for (const [what, count] of faults) result.notes.push(`${system}: ${count} request(s) FAULTED ${what}`);
  } finally {
    progress('close');
    await rt.close();
  }
  return result;
}
