/**
 * The engine: prepares components once (validate, transpile, cache) and executes requests against
 * them in the worker pool, with every guest import routed to the capability registry.
 */
import { availableParallelism } from 'node:os';
import { setFlagsFromString } from 'node:v8';
import {
  DROPPED_ANSWER,
  NO_LOCAL_PLAN,
  type CapabilityHost,
  type CapabilityName,
  type ExecutionContext,
  type ExecutionView,
  type ExecutionServices,
  type FaultCode,
  type GuestHttpRequest,
  type HostCallAnswer,
  type InstallView,
  type LocalPlan,
} from '../contract/index.js';
import { ArtifactStore, type Artifact } from './artifact-store.js';
import { WorkerPool, type HostSession, type JobResult } from './worker-pool.js';
import type { HotWaitStats } from './hot-wait.js';
import type { EngineApi, EngineEvents, EnginePrepareResult, ExecuteInput, ExecuteOutcome, ExecutionReport, LogRecord, WarmInput, WarmOutcome } from './api.js';
import type { FairnessOptions } from './fair-scheduler.js';
import { inspectModule, MemoryCapTooSmallError, WASM_PAGE_BYTES } from './wasm-binary.js';
import { WRITE_TRACKING_SECTION } from './write-tracking.js';
import { instanceStateOf } from './instance-state.js';
import type { CoreModuleSpec, ModuleData, ExecutionStats, LoadMessage } from './protocol.js';
import { BlockPool } from './data-image.js';
import { sha256Key } from './module-split.js';
import { truncateUtf8 } from '../store/truncate-utf8.js';
import { DEFAULT_LIMITS, limitsWithDefaults, type ExecutionLimits } from './limits.js';

export interface EngineOptions {
  /** where transpiled artifacts are kept (survives restarts) */
  cacheDir: string;
  /** the capability registry (capabilities/registry.ts) */
  registry: CapabilityHost;
  /** worker count; default = cores */
  workers?: number;
  /** guests kept loaded per worker before the least recently used is unloaded */
  maxGuestsPerWorker?: number;
  /** linear memory each worker's idle guest instances may hold, in MiB (default: no bound) */
  instanceMemoryMb?: number;
  /** restore only the blocks a request wrote, where the component allows it (default true) */
  writeTracking?: boolean;
  /** longest the main thread watches a running worker for its next message, in ms (hot-wait.ts; default 0.5, 0 turns it off) */
  hotWaitMs?: number;
  /** CPU cores the process may use (default: availableParallelism()); the hot wait only runs while one is free */
  cores?: number;
  /** when an install that keeps faulting costly is put on probation (fair-scheduler.ts) */
  fairness?: FairnessOptions;
}

export class Engine implements EngineApi {
  readonly artifacts: ArtifactStore;
  /** the engine's own: the service sees the pool only through EngineApi (tests look inside) */
  readonly pool: WorkerPool;
  private readonly loaded = new Map<string, Promise<LoadMessage>>();

  private constructor(private readonly options: EngineOptions) {
    this.artifacts = new ArtifactStore(options.cacheDir);
    this.pool = new WorkerPool({
      size: options.workers ?? availableParallelism(),
      maxGuestsPerWorker: options.maxGuestsPerWorker,
      instanceMemoryMb: options.instanceMemoryMb,
      hotWaitMs: options.hotWaitMs,
      cores: options.cores,
      workerSides: options.registry.workerSides(),
      workerStore: options.registry.workerStore(),
      fairness: options.fairness,
    });
  }

  static async create(options: EngineOptions): Promise<Engine> {
    const engine = new Engine(options);
    await engine.artifacts.sweep();
    try {
      await engine.pool.ready();
    } catch (e) {
      // a capability's worker side did not open (WorkerSideError): no worker may stay behind
      await engine.pool.close();
      throw e;
    }
    return engine;
  }

  /** Install-time pipeline: validate, transpile and cache; refuse imports no capability serves. */
  async prepare(bytes: Uint8Array): Promise<EnginePrepareResult> {
    const result = await this.artifacts.prepare(bytes);
    if (result.kind === 'err') return result;
    const unserved = this.options.registry.unserved(result.artifact.importedFunctions);
    if (unserved.length > 0) {
      return { kind: 'err', problem: { code: 'unserved_import', import: unserved[0]!, message: `the component imports ${unserved.join(', ')}, which this runner does not serve` } };
    }
    // install time pays for the default memory cap's rewrite, not the first request
    const pages = pagesFor(DEFAULT_LIMITS.memoryMb);
    for (const m of result.artifact.coreModules) await this.artifacts.cappedCode(m.codeKey, pages, false);
    return result;
  }

  async isPrepared(contentHash: string): Promise<boolean> {
    return (await this.artifact(contentHash)) !== null;
  }

  async execute(input: ExecuteInput): Promise<ExecuteOutcome> {
    const started = performance.now();
    const limits = limitsWithDefaults(input.limits);
    const session = new ExecutionSession(input, limits, this.options.registry);
    const report = (stats: ExecutionStats | null): ExecutionReport => session.report(performance.now() - started, stats);

    const dispatch = await this.dispatch(input, limits, session, (importedFunctions) => session.planLocal(importedFunctions));
    if (dispatch.kind === 'refused') return { kind: 'fault', code: dispatch.code, message: dispatch.message, report: report(null) };
    const result = await dispatch.result;
    if (result.stats) session.recordLocal(result.stats);
    session.end();
    // nothing answers before the execution's committed writes are on disk (ExecutionServices.awaitDurable);
    // a disk that does not answer within the execution's own deadline fails the answer rather than hold it
    const notDurable = await withinMs(session.durable(), limits.timeoutMs, `not on disk within ${limits.timeoutMs} ms`).then(
      () => null,
      (e: unknown) => ({ error: e }),
    );
    if (notDurable !== null) {
      const why = notDurable.error instanceof Error ? notDurable.error.message : String(notDurable.error);
      return { kind: 'fault', code: 'host_error', message: `a storage write could not be made durable: ${why}`, report: report(result.stats), notDurable: notDurable.error };
    }
    // a one-way call can fail after the guest went on: the host's abort still ends the execution
    if (result.kind === 'ok' && !session.abortReason) return { kind: 'ok', response: result.response, report: report(result.stats) };
    // a host-side abort (limit) is the real cause even if the guest then trapped while unwinding
    const abort = session.abortReason;
    const code = abort?.code ?? (result.kind === 'fault' ? result.code : 'host_error');
    const message = abort?.message ?? (result.kind === 'fault' ? result.message : '');
    return { kind: 'fault', code, message, report: report(result.stats) };
  }

  /**
   * Gets a component ready to serve without running any of its code: compiles it (with the memory
   * cap of `limits`), loads it into a worker and instantiates it there, so the first request finds
   * a pristine instance instead of paying for all of that. The service warms an install when it is
   * created or changed. A component that cannot be instantiated is reported (`instantiate_failed`).
   */
  async warm(input: WarmInput): Promise<WarmOutcome> {
    const started = performance.now();
    const limits = limitsWithDefaults(input.limits);
    const owner = input.reuseFor;
    const ctx: ExecutionContext = {
      requestId: 'warm-up',
      tenantId: owner?.tenantId ?? '',
      extensionId: '',
      installId: owner?.installId ?? null,
      versionId: null,
      contentHash: input.contentHash,
      user: null,
      config: {},
    };
    const dispatch = await this.dispatch({ contentHash: input.contentHash, ctx, request: WARM_REQUEST, instanceMode: owner ? 'reuse' : 'fresh' }, limits, NO_HOST_CALLS, () => NO_LOCAL_PLAN, true);
    if (dispatch.kind === 'refused') return { kind: 'fault', code: dispatch.code, message: dispatch.message };
    const result = await dispatch.result;
    if (result.kind === 'prepared') return { kind: 'ok', instance: result.stats.instance, durationMs: performance.now() - started };
    return { kind: 'fault', code: result.kind === 'fault' ? result.code : 'host_error', message: result.kind === 'fault' ? result.message : 'the worker ran the guest instead of preparing it' };
  }

  /** Finds and loads the component, then hands the execution (or warm-up) to the pool. */
  private async dispatch(
    input: Pick<ExecuteInput, 'contentHash' | 'ctx' | 'request' | 'instanceMode'>,
    limits: ExecutionLimits,
    session: HostSession,
    plan: (importedFunctions: Record<string, string[]>) => LocalPlan,
    prepareOnly = false,
  ): Promise<{ kind: 'refused'; code: 'not_prepared' | 'memory_limit'; message: string } | { kind: 'dispatched'; result: Promise<JobResult> }> {
    const artifact = await this.artifact(input.contentHash);
    if (!artifact) return { kind: 'refused', code: 'not_prepared', message: `no prepared component for ${input.contentHash}` };
    const maxPages = pagesFor(limits.memoryMb);
    const artifactKey = `${artifact.contentHash}@${maxPages}`;
    let loadMessage: LoadMessage;
    try {
      loadMessage = await this.loadArtifact(artifactKey, artifact, maxPages);
    } catch (e) {
      if (!(e instanceof MemoryCapTooSmallError)) throw e;
      return { kind: 'refused', code: 'memory_limit', message: `the component needs ${mib(e.initialPages)} MiB of memory to start, above its limit of ${limits.memoryMb} MiB` };
    }

    const instanceMode = input.instanceMode ?? 'fresh';
    const { tenantId, installId } = input.ctx;
    const result = this.pool.run({
      artifactKey,
      // an execution without an install (`alga-runner run`, a fresh-mode warm-up) is its tenant's own
      owner: { tenant: tenantId, install: installId ?? `${tenantId}\u0000${artifactKey}` },
      affinity: instanceMode === 'reuse' ? `${artifactKey}\u0000${input.ctx.installId ?? input.ctx.tenantId}` : undefined,
      load: () => loadMessage,
      session,
      timeoutMs: limits.timeoutMs,
      message: {
        artifactKey,
        instanceMode,
        maxResponseBytes: limits.maxResponseBytes,
        maxHostCalls: limits.maxHostCalls,
        maxLogMessageBytes: limits.maxLogMessageBytes,
        local: plan(artifact.importedFunctions),
        request: input.request,
        context: {
          requestId: input.ctx.requestId,
          tenantId: input.ctx.tenantId,
          extensionId: input.ctx.extensionId,
          installId: input.ctx.installId ?? undefined,
          versionId: input.ctx.versionId ?? undefined,
        },
        ...(prepareOnly ? { prepareOnly } : {}),
      },
    });
    return { kind: 'dispatched', result };
  }

  /** Prepared artifacts by content hash, read from disk once per process. */
  private readonly known = new Map<string, Artifact>();

  private async artifact(contentHash: string): Promise<Artifact | null> {
    const cached = this.known.get(contentHash);
    if (cached) return cached;
    const artifact = await this.artifacts.loadOrRebuild(contentHash);
    if (artifact) this.known.set(contentHash, artifact);
    return artifact;
  }

  /** Rewrites (memory cap, exported globals) and compiles the core modules once per process. */
  private loadArtifact(key: string, artifact: Artifact, maxPages: number): Promise<LoadMessage> {
    let loading = this.loaded.get(key);
    if (loading) {
      // least recently used order: the oldest entry is the first to go
      this.loaded.delete(key);
      this.loaded.set(key, loading);
    } else {
      if (this.loaded.size >= MAX_COMPILED_GUESTS) this.loaded.delete(this.loaded.keys().next().value!);
      loading = (async () => {
        const modules = await compileCoreModules(this.artifacts, artifact, maxPages, this.blocks, (codeKey) => this.codeFor(codeKey, maxPages));
        return {
          type: 'load',
          artifactKey: key,
          gluePath: artifact.gluePath,
          shapeKey: artifact.shapeKey,
          modules,
          maxMemoryPages: maxPages,
          importedFunctions: artifact.importedFunctions,
          returnAreas: this.options.writeTracking === false ? null : artifact.returnAreas,
        } satisfies LoadMessage;
      })();
      // a cap below the component's initial memory stays refused; anything else is tried again
      loading.catch((e: unknown) => {
        if (!(e instanceof MemoryCapTooSmallError)) this.loaded.delete(key);
      });
      this.loaded.set(key, loading);
    }
    return loading;
  }

  /** Compiled code per code key and memory cap: once per process, however many extensions carry it (module-split.ts). */
  private readonly compiledCode = new Map<string, Promise<CompiledCode>>();
  /** the blocks of every loaded extension's initial memory, each stored once (data-image.ts) */
  readonly blocks = new BlockPool();

  private codeFor(codeKey: string, maxPages: number): Promise<CompiledCode> {
    const key = `${codeKey}@${maxPages}`;
    let compiled = this.compiledCode.get(key);
    if (compiled) {
      this.compiledCode.delete(key);
      this.compiledCode.set(key, compiled);
      return compiled;
    }
    if (this.compiledCode.size >= MAX_COMPILED_CODES) this.compiledCode.delete(this.compiledCode.keys().next().value!);
    compiled = compileCode(this.artifacts, codeKey, maxPages, this.blocks);
    compiled.catch(() => this.compiledCode.delete(key));
    this.compiledCode.set(key, compiled);
    return compiled;
  }

  get queueDepth(): number {
    return this.pool.queued;
  }

  get workers(): number {
    return this.pool.size;
  }

  forgetInstall(installId: string, removed: boolean): void {
    this.pool.forgetInstall(installId, removed);
  }

  get installsOnProbation(): number {
    return this.pool.penalisedInstalls().length;
  }

  get hotWaitStats(): Readonly<HotWaitStats> {
    return this.pool.hotWaitStats;
  }

  on<E extends keyof EngineEvents>(event: E, listener: (payload: EngineEvents[E]) => void): void {
    this.pool.on(event, listener);
  }

  async close(): Promise<void> {
    await this.pool.close();
  }
}

/** Compiled code shared by every extension that carries it, and the size of the memory it defines. */
export interface CompiledCode {
  spec: CoreModuleSpec;
  initialMemoryBytes: number;
}

export async function compileCode(artifacts: ArtifactStore, codeKey: string, maxPages: number, blocks: BlockPool): Promise<CompiledCode> {
  const bytes = await artifacts.cappedCode(codeKey, maxPages);
  const spec = await compileCoreModule(codeKey, bytes, blocks, `${codeKey}@${maxPages}`);
  const memory = inspectModule(bytes).definedMemories[0];
  return { spec, initialMemoryBytes: Number(memory?.minPages ?? 0n) * WASM_PAGE_BYTES };
}

/** An artifact's core modules: shared compiled code (compiled by `code`), and the artifact's own data where it was split off. */
export async function compileCoreModules(
  artifacts: ArtifactStore,
  artifact: Artifact,
  maxPages: number,
  blocks = new BlockPool(),
  code: (codeKey: string) => Promise<CompiledCode> = (codeKey) => compileCode(artifacts, codeKey, maxPages, blocks),
): Promise<CoreModuleSpec[]> {
  const data = await artifacts.moduleData(artifact);
  const specs: CoreModuleSpec[] = [];
  for (const m of artifact.coreModules) {
    const compiled = await code(m.codeKey);
    const own = data.get(m.name);
    if (!own) {
      specs.push({ ...compiled.spec, name: m.name });
      continue;
    }
    let image: ModuleData;
    try {
      image = blocks.image(own, compiled.initialMemoryBytes);
    } catch (e) {
      // instantiation would fail the same way: the component cannot start
      if (e instanceof RangeError) throw new Error(`the component's core module ${m.name} cannot be instantiated: ${e.message}`);
      throw e;
    }
    specs.push({ ...compiled.spec, name: m.name, data: image, applyData: true, placesData: false });
  }
  return specs;
}

/** One rewritten core module (see ArtifactStore.cappedCode), compiled, with its facts. */
export async function compileCoreModule(name: string, bytes: Uint8Array, blocks = new BlockPool(), codeKey = sha256Key(bytes)): Promise<CoreModuleSpec> {
  const facts = inspectModule(bytes);
  const mutable = new Set(facts.mutableGlobals);
  const module = await WebAssembly.compile(bytes as Uint8Array<ArrayBuffer>);
  const tracksWrites = WebAssembly.Module.customSections(module, WRITE_TRACKING_SECTION).length > 0;
  const segments = facts.activeData;
  const initialBytes = Number(facts.definedMemories[0]?.minPages ?? 0n) * WASM_PAGE_BYTES;
  return {
    name,
    module,
    codeKey,
    mutableGlobals: facts.exports.filter((e) => e.kind === 3 && mutable.has(e.index)).map((e) => e.name),
    tables: facts.exports.filter((e) => e.kind === 1).map((e) => e.name),
    memory: facts.definedMemories.length > 0 ? 'defines' : WebAssembly.Module.imports(module).some((i) => i.kind === 'memory') ? 'imports' : 'none',
    tracksWrites,
    state: instanceStateOf(module),
    // only a tracked guest restores from its data segments (pristine-image.ts)
    data: tracksWrites && segments && facts.definedMemories.length === 1 ? blocks.image({ segments, bytes }, initialBytes) : null,
    applyData: false,
    placesData: segments === null || segments.length > 0,
  };
}

/**
 * Function bodies are validated when first compiled (V8 compiles lazily anyway) instead of all at
 * once: a cold start compiles the 21 MB main module ~30 ms sooner. Every body was validated at
 * install (artifact-store.ts), and a body V8 still refused would fail its call, not the process.
 */
setFlagsFromString('--wasm-lazy-validation');

/** What a warm-up hands the worker: never seen by guest code, which does not run. */
const WARM_REQUEST: GuestHttpRequest = { method: 'GET', url: '/', headers: [], body: undefined };

/** A warm-up runs no guest code, so nothing may call the host: a call would be a bug, and is refused. */
const NO_HOST_CALLS: HostSession = {
  call: (iface, fn) => Promise.resolve({ kind: 'abort', code: 'host_error', message: `${iface}#${fn} called during a warm-up` }),
  oneWay: () => {},
  stdio: () => {},
  log: () => {},
};

/**
 * Guests ready to load kept by this process; a dropped one is made again from its disk artifact. An
 * entry is the shared code and the extension's own blocks, so thousands fit.
 */
const MAX_COMPILED_GUESTS = 4096;
/** Distinct compiled codes kept (each is a whole JavaScript engine's code, shared by its extensions). */
const MAX_COMPILED_CODES = 16;

function mib(pages: number): string {
  return ((pages * WASM_PAGE_BYTES) / 2 ** 20).toFixed(1);
}

function pagesFor(memoryMb: number): number {
  return Math.max(1, Math.floor((memoryMb * 2 ** 20) / WASM_PAGE_BYTES));
}

/**
 * The main thread's state of one execution: budgets, log records, denial notes, its end. One object
 * in three roles — the ExecutionView the capability registry works with, the ExecutionServices
 * capability functions get (`services` is the session itself), the HostSession the pool hands the
 * execution's host traffic to.
 *
 * A class, not an object literal: V8 made the literal that capability functions saw — it has an
 * accessor, `get signal()` — in a way that kept everything it pointed to alive through scavenges
 * until the next full GC. With one per request the main thread promoted 14-18 % of what it
 * allocated and its scavenges took ~7 ms; with a class 0.3 % and under 1 ms (BENCHMARKS.md).
 */
/** `work`, or a rejection with `message` once `ms` have passed without it settling. */
function withinMs<T>(work: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(message)), ms)));
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}

class ExecutionSession implements ExecutionView, ExecutionServices, HostSession {
  readonly ctx: ExecutionContext;
  readonly install: InstallView;
  readonly grants: ReadonlySet<CapabilityName>;
  readonly services: ExecutionServices = this;
  readonly states = new Map<CapabilityName, { config: unknown; state: unknown }>();
  /**
   * Calls that reached the main thread (round trips, one-way calls): what the report counts when
   * the worker's own count is lost with it (deadline, crash). The host-call cap is the worker's
   * alone (guest/bridge.ts HostBridge.callHost), which counts every call, local ones included.
   */
  private callsSeen = 0;
  private deniedCalls = 0;
  private logRecords = 0;
  private droppedLogRecords = 0;
  private readonly deniedNoted = new Set<string>();
  /** made when a capability first asks for the end signal: most executions never do, and aborting costs a DOMException */
  private controller: AbortController | null = null;
  abortReason: { code: FaultCode; message: string } | null = null;
  private local: LocalPlan = NO_LOCAL_PLAN;

  constructor(
    private readonly input: ExecuteInput,
    private readonly limits: ExecutionLimits,
    private readonly registry: CapabilityHost,
  ) {
    this.ctx = input.ctx;
    this.install = input.install;
    this.grants = input.grants;
  }

  /** What the worker answers itself for this execution (per-execution answers, one-way calls). */
  planLocal(importedFunctions: Record<string, string[]>): LocalPlan {
    this.local = this.registry.localPlan(this, importedFunctions);
    return this.local;
  }

  /** Accounts for the calls the worker answered locally. */
  recordLocal(stats: ExecutionStats): void {
    this.registry.recordLocal(this, this.local, stats.localCalls, stats.workerCalls);
  }

  oneWay(iface: string, fn: string, args: unknown[]): void {
    this.call(iface, fn, args).catch((e: unknown) => {
      this.abortReason ??= { code: 'host_error', message: `${iface}#${fn} failed: ${e instanceof Error ? e.message : String(e)}` };
    });
  }

  /** `stats`: the worker's, whose count of host calls (all deliveries) is authoritative. */
  report(durationMs: number, stats: ExecutionStats | null): ExecutionReport {
    return { hostCalls: Math.max(this.callsSeen, stats?.hostCalls ?? 0), deniedCalls: this.deniedCalls, logRecords: this.logRecords, droppedLogRecords: this.droppedLogRecords, durationMs, stats };
  }

  end(): void {
    this.ended = true;
    this.controller?.abort();
  }

  /** writes committed but not yet on disk (awaitDurable); settled ones are dropped */
  private readonly notYetDurable = new Set<Promise<void>>();
  private durableFailure: unknown = null;

  /** ExecutionServices.awaitDurable */
  awaitDurable(durable: Promise<void>): void {
    this.notYetDurable.add(durable);
    durable.then(
      () => this.notYetDurable.delete(durable),
      (e: unknown) => {
        this.durableFailure ??= e;
        this.notYetDurable.delete(durable);
      },
    );
  }

  /** ExecutionServices.durable */
  async durable(): Promise<void> {
    if (this.notYetDurable.size > 0) await Promise.allSettled([...this.notYetDurable]);
    if (this.durableFailure !== null) throw this.durableFailure;
  }

  private ended = false;

  /** ExecutionServices.noteDenied */
  noteDenied(capability: CapabilityName, fn: string, reason: string): void {
    this.deniedCalls++;
    if (this.deniedNoted.has(capability)) return;
    this.deniedNoted.add(capability);
    // past the guest's record cap too: why a call failed is what its author needs most, and there
    // is at most one such note per capability and execution
    this.emit('warn', `denied ${fn}: ${reason}`, 'log');
  }

  /** ExecutionServices.signal */
  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.ended) this.controller.abort();
    }
    return this.controller.signal;
  }

  async call(iface: string, fn: string, args: unknown[]): Promise<HostCallAnswer> {
    this.callsSeen++;
    const result = await this.registry.invoke(this, iface, fn, args);
    if (result.kind === 'dropped') return DROPPED_ANSWER;
    if (result.kind === 'failed') {
      this.abortReason = { code: 'host_error', message: result.message };
      return { kind: 'abort', ...this.abortReason };
    }
    return result;
  }

  stdio(stream: 'stdout' | 'stderr', text: string): void {
    for (const line of text.replace(/\n$/, '').split('\n')) this.log(stream === 'stderr' ? 'warn' : 'info', line, stream);
  }

  /** ExecutionServices.log */
  log(level: LogRecord['level'], message: string, stream: LogRecord['stream'] = 'log'): void {
    if (this.logRecords >= this.limits.maxLogRecords) {
      this.droppedLogRecords++;
      return;
    }
    this.logRecords++;
    this.emit(level, message, stream);
  }

  private emit(level: LogRecord['level'], message: string, stream: LogRecord['stream']): void {
    const cut = truncateUtf8(message, this.limits.maxLogMessageBytes);
    const { ctx } = this.input;
    this.input.onLog?.({
      ts: new Date().toISOString(),
      level,
      stream,
      message: cut.text,
      truncated: cut.truncated,
      tenant: ctx.tenantId,
      extension: ctx.extensionId,
      install: ctx.installId,
      version: ctx.versionId,
      request_id: ctx.requestId,
    });
  }
}
