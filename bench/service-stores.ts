/**
 * The stores part of `npm run bench` (`--only stores`): the kitchen-sink `/seven` (seven host
 * calls, one of them a durable `storage.put`) through `POST /v1/execute` on three services that
 * differ only in their store — SQLite synchronous=FULL (the default), SQLite NORMAL, PostgreSQL
 * (TEST_DATABASE_URL, a schema of its own, dropped afterwards) — beside the same service on
 * in-memory capabilities and log records (memory-service.ts: the floor durable writes are compared
 * with, same HTTP path) and the same handler through Engine.execute on those capabilities (no HTTP). At 1 client (latency) and 32 (throughput), in alternating rounds so the drifting load of a
 * shared machine falls on every leg alike.
 */
import { mkdirSync, mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { kitchenSinkBytes } from './guests.js';
import { progress, type BenchConfig, type SectionResult } from './results.js';
import { EngineReference, engineRequests } from './service-engine.js';
import { installKitchenSink, startRunnerService, type BenchInstall, type RunnerService } from './service-server.js';
import { CLIENT_COUNTS, rowFrom, type LoadRow, type RunPart } from './service-results.js';
import { executeLoad } from './service.js';
import { openStore, type SqliteSynchronous } from '../src/store/index.js';
import { summarize } from './stats.js';

export type StoreLeg = 'memory (engine)' | 'memory (service)' | 'sqlite full' | 'sqlite normal' | 'postgres';

export interface StoresResult extends SectionResult {
  stores: { leg: StoreLeg; row: LoadRow }[];
  /** kv.put straight on the store, in this process (no guest, no HTTP) */
  storeWrites: StoreWrites[];
}

export interface StoreWrites {
  synchronous: SqliteSynchronous;
  /** one writer, one put after the other */
  aloneP50Ms: number;
  aloneP99Ms: number;
  /** 32 writers, each with one put in flight */
  concurrentPerSecond: number;
  /** longest the event loop went without running a 1 ms timer during the concurrent run */
  longestLoopGapMs: number;
}

/** kv.put on a SQLite store in this process: the write path alone, and how long it holds the event loop. */
async function measureStoreWrites(dir: string, synchronous: SqliteSynchronous, quick: boolean): Promise<StoreWrites> {
  const store = await openStore({ dataDir: dir, sqliteSynchronous: synchronous });
  try {
    const value = new TextEncoder().encode('x'.repeat(64));
    const alone: number[] = [];
    for (let i = 0; i < (quick ? 100 : 300); i++) {
      const started = performance.now();
      await store.kv.put('bench-alone', { namespace: 'n', key: `k${i % 50}`, value });
      alone.push(performance.now() - started);
    }
    let last = performance.now();
    let longestGap = 0;
    const probe = setInterval(() => {
      const now = performance.now();
      longestGap = Math.max(longestGap, now - last);
      last = now;
    }, 1);
    const started = performance.now();
    const until = started + (quick ? 1500 : 3000);
    let done = 0;
    await Promise.all(
      Array.from({ length: 32 }, async (_, w) => {
        for (let i = 0; performance.now() < until; i++) {
          await store.kv.put(`bench-${w % 4}`, { namespace: 'n', key: `w${w}-${i % 50}`, value });
          done++;
        }
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    clearInterval(probe);
    longestGap = Math.max(longestGap, performance.now() - last);
    const latency = summarize(alone);
    return { synchronous, aloneP50Ms: latency.p50, aloneP99Ms: latency.p99, concurrentPerSecond: done / seconds, longestLoopGapMs: longestGap };
  } finally {
    await store.close();
  }
}

export const isStoresResult = (r: SectionResult): r is StoresResult => 'stores' in r;

const DATABASE_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

const PLAN = { full: { warm: 2, measure: 6, rounds: 3 }, quick: { warm: 1, measure: 3, rounds: 2 } };

interface ServiceLeg {
  leg: Exclude<StoreLeg, 'memory (engine)'>;
  env: Record<string, string>;
  entry?: 'memory';
}

async function dropSchema(schema: string): Promise<void> {
  const client = new pg.Client(DATABASE_URL);
  await client.connect();
  try {
    await client.query(`drop schema if exists "${schema}" cascade`);
  } finally {
    await client.end();
  }
}

function load(service: RunnerService, install: BenchInstall, clients: number, seconds: number): Promise<RunPart> {
  return executeLoad(service, install, 'seven', clients, seconds);
}

export async function runServiceStores(config: BenchConfig): Promise<StoresResult> {
  const result: StoresResult = { section: 'service-stores', rows: [], facts: [], notes: [], stores: [], storeWrites: [] };
  const plan = config.quick ? PLAN.quick : PLAN.full;
  mkdirSync(join(config.workDir, 'stores'), { recursive: true });
  const runDir = mkdtempSync(join(config.workDir, 'stores', 'run-'));
  const schema = `bench_stores_${process.pid}_${randomBytes(3).toString('hex')}`;
  const legs: ServiceLeg[] = [
    { leg: 'memory (service)', env: {}, entry: 'memory' },
    { leg: 'sqlite full', env: { RUNNER_SQLITE_SYNCHRONOUS: 'full' } },
    { leg: 'sqlite normal', env: { RUNNER_SQLITE_SYNCHRONOUS: 'normal' } },
    { leg: 'postgres', env: { DATABASE_URL, RUNNER_DATABASE_SCHEMA: schema } },
  ];
  for (const synchronous of ['full', 'normal'] as const) {
    progress(`kv.put on the store, synchronous=${synchronous}`);
    result.storeWrites.push(await measureStoreWrites(join(runDir, `store-${synchronous}`), synchronous, config.quick));
  }
  progress('engine on in-memory capabilities: start + prepare');
  const engine = await EngineReference.create(config, 'memory');
  const started: { leg: ServiceLeg; service: RunnerService; install: BenchInstall }[] = [];
  try {
    for (const leg of legs) {
      progress(`start the service on ${leg.leg}`);
      const name = leg.leg.replace(/\W+/g, '-');
      const service = await startRunnerService({
        dataDir: join(runDir, name, 'data'),
        workers: config.workers,
        logFile: join(runDir, `${name}.log`),
        env: leg.env,
        ...(leg.entry && { entry: leg.entry }),
      });
      started.push({ leg, service, install: await installKitchenSink(service, kitchenSinkBytes()) });
      result.notes.push(`${leg.leg}: ${service.command}`);
    }
    progress('warm-up');
    await engine.warm('seven', 32);
    for (const s of started) await load(s.service, s.install, 32, plan.warm);
    for (const clients of CLIENT_COUNTS) {
      const engineParts: RunPart[] = [];
      const serviceParts = new Map<StoreLeg, RunPart[]>(started.map((s) => [s.leg.leg, []]));
      const perRound = Math.ceil(engineRequests(config.quick, 'seven', clients) / plan.rounds);
      for (let round = 1; round <= plan.rounds; round++) {
        progress(`/seven, ${clients} in flight, round ${round} of ${plan.rounds}`);
        engineParts.push(await engine.measure('seven', clients, perRound));
        for (const s of started) serviceParts.get(s.leg.leg)!.push(await load(s.service, s.install, clients, plan.measure / plan.rounds));
      }
      result.stores.push({ leg: 'memory (engine)', row: rowFrom('engine', 'seven', clients, engineParts) });
      for (const [leg, parts] of serviceParts) result.stores.push({ leg, row: rowFrom('service', 'seven', clients, parts) });
    }
  } finally {
    progress('stop the services');
    for (const s of started) await s.service.stop();
    await engine.close();
    await dropSchema(schema).catch((e: unknown) => result.notes.push(`could not drop schema ${schema}: ${String(e)}`));
  }
  return result;
}

const fmt = (v: number, digits = 2) => (Number.isFinite(v) ? v.toFixed(digits) : 'n/a');

export function storesReport(result: StoresResult): string[] {
  const lines = [
    'Stores: /seven (one durable storage.put among seven host calls) through services differing only in their store, beside the same service on in-memory capabilities and the engine on them (no HTTP)',
  ];
  const header = `${'store'.padEnd(16)} ${'measured at'.padEnd(34)} ${'clients'.padStart(7)} ${'p50 ms'.padStart(8)} ${'p99 ms'.padStart(8)} ${'req/s'.padStart(7)} ${'failed'.padStart(6)} ${'p50 ÷ mem'.padStart(9)} ${'req/s ÷ mem'.padStart(11)} ${'p50 ÷ eng'.padStart(9)} ${'req/s ÷ eng'.padStart(11)}`;
  lines.push(header, '-'.repeat(header.length));
  const find = (leg: StoreLeg, clients: number) => result.stores.find((s) => s.leg === leg && s.row.clients === clients)?.row;
  const ratios = (row: LoadRow, base: LoadRow | undefined) => [base ? `${fmt(row.latency.p50 / base.latency.p50)}×` : '', base ? `${fmt((row.perSecond / base.perSecond) * 100, 0)} %` : ''] as const;
  for (const { leg, row } of result.stores) {
    const failed = Object.values(row.failures).reduce((n, v) => n + v, 0);
    const at = row.path === 'engine' ? 'Engine.execute (no HTTP)' : 'service (POST /v1/execute over HTTP)';
    const [p50Mem, rpsMem] = ratios(row, find('memory (service)', row.clients));
    const [p50Eng, rpsEng] = ratios(row, find('memory (engine)', row.clients));
    lines.push(
      `${leg.padEnd(16)} ${at.padEnd(34)} ${String(row.clients).padStart(7)} ${fmt(row.latency.p50, 3).padStart(8)} ${fmt(row.latency.p99, 3).padStart(8)} ${fmt(row.perSecond, 0).padStart(7)} ${String(failed).padStart(6)} ${p50Mem.padStart(9)} ${rpsMem.padStart(11)} ${p50Eng.padStart(9)} ${rpsEng.padStart(11)}`,
    );
  }
  lines.push('kv.put straight on a SQLite store (this process, no guest, no HTTP):');
  for (const w of result.storeWrites) {
    lines.push(
      `  synchronous=${w.synchronous.padEnd(6)} 1 writer p50 ${fmt(w.aloneP50Ms, 3)} ms (p99 ${fmt(w.aloneP99Ms, 3)} ms); 32 writers ${fmt(w.concurrentPerSecond, 0)} puts/s, event loop's longest stall ${fmt(w.longestLoopGapMs, 0)} ms`,
    );
  }
  const [m1, m32] = [find('memory (service)', 1), find('memory (service)', 32)];
  const [f1, f32, p32] = [find('sqlite full', 1), find('sqlite full', 32), find('postgres', 32)];
  lines.push('Targets (stores; against the in-memory service, same HTTP path; goals for a quiet machine)');
  if (m32 && f32) lines.push(`  SQLite FULL at 32 clients ≥ 70 % of in-memory req/s: ${fmt((f32.perSecond / m32.perSecond) * 100, 0)} %`);
  if (m32 && p32) lines.push(`  PostgreSQL at 32 clients ≥ 50 % of in-memory req/s: ${fmt((p32.perSecond / m32.perSecond) * 100, 0)} %`);
  if (m1 && f1) lines.push(`  SQLite FULL p50 at 1 client ≤ 1.5× in-memory: ${fmt(f1.latency.p50 / m1.latency.p50)}×`);
  for (const note of result.notes) lines.push(`note: ${note}`);
  return lines;
}
