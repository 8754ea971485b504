/**
 * Host-call round trip through the bridge, measured directly: two WAT guests identical except that
 * one calls `secrets.get` CALLS times (a round trip each). Per-request cost per call = (latency − p50 of the 0-call
 * guest) ÷ CALLS; its p50/p99 over the sequential requests are reported. The capability behind the
 * call is the in-memory secrets stand-in (a map lookup), so this is the bridge, the registry and
 * jco's lowering — not a backend. A guest that traps (the call answered an error) fails the run.
 */
import { buildHostCallsGuest } from './guests.js';
import { createBenchEngine } from './engine-runtime.js';
import { emptyResult, progress, type BenchConfig, type SectionResult } from './results.js';
import { WARM_UP, describeWarmUp, summarize, timeSequential, warmUntilSteady } from './stats.js';
import type { GuestHttpRequest } from '../src/contract/index.js';

const CALLS = 64;

export async function runBridge(config: BenchConfig): Promise<SectionResult> {
  const result = emptyResult('bridge');
  const rt = await createBenchEngine(config, 'memory');
  try {
    progress('build and install the WAT guests');
    const none = await rt.install(await buildHostCallsGuest(0));
    const many = await rt.install(await buildHostCallsGuest(CALLS));
    const request: GuestHttpRequest = { method: 'GET', url: '/', headers: [], body: undefined };
    const n = { seq: config.quick ? 300 : 1000 };
    const warmUp = config.quick ? WARM_UP.quick : WARM_UP.full;
    const run = async (hash: string) => {
      const outcome = await rt.execute(hash, request);
      if (outcome.kind !== 'ok' || outcome.response.status !== 204) throw new Error(`bridge guest: ${outcome.kind === 'ok' ? outcome.response.status : outcome.message}`);
      if (hash === many && outcome.report.hostCalls !== CALLS) throw new Error(`bridge guest made ${outcome.report.hostCalls} host calls, expected ${CALLS}`);
      // the stand-in's secrets have a worker side, which the pool uses only when no core is free
      // for the main thread (never one request at a time): every call here must be a round trip
      if ((outcome.report.stats?.workerCalls.length ?? 0) > 0) throw new Error('bridge guest: its calls were answered in the worker, not round trips');
    };
    result.notes.push(describeWarmUp('bridge, WAT guest without host calls', await warmUntilSteady(warmUp, 1, () => run(none))));
    result.notes.push(describeWarmUp(`bridge, WAT guest with ${CALLS} host calls`, await warmUntilSteady(warmUp, 1, () => run(many))));
    // interleave the two guests so load changes on the machine hit both alike
    const base: number[] = [];
    const calls: number[] = [];
    for (let i = 0; i < n.seq; i++) {
      base.push(...(await timeSequential(1, () => run(none))));
      calls.push(...(await timeSequential(1, () => run(many))));
    }
    progress('close');
    const baseP50 = summarize(base).p50;
    const perCall = summarize(calls.map((ms) => ((ms - baseP50) / CALLS) * 1000));
    result.facts.push(
      { key: 'bridge.direct.p50', label: `host-call round trip, direct (WAT guest, ${CALLS}× secrets.get per request) p50`, value: perCall.p50, unit: 'µs' },
      { key: 'bridge.direct.p99', label: `host-call round trip, direct (WAT guest, ${CALLS}× secrets.get per request) p99 of per-request mean`, value: perCall.p99, unit: 'µs' },
      { key: 'bridge.wat-noop.p50', label: 'WAT guest with no host call, through the engine, p50', value: baseP50, unit: 'ms' },
    );
  } finally {
    await rt.close();
  }
  return result;
}
