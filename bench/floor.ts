/**
 * Baseline (b), the floor: one warm instance called directly on the main thread, no worker, no
 * isolation — transpiled like the engine does (sync instantiation, no WASI shim, the engine's glue
 * patches) via the engine's ArtifactStore, with our WASI and the in-memory host functions.
 *
 * Also "floor + restore": the same, but through the engine's GuestInstance with a snapshot restore
 * after each request — fresh-instance semantics without the worker and bridge, which splits ours'
 * cost into restore vs. isolation.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ArtifactStore, type Artifact } from '../src/engine/artifact-store.js';
import { ResourceLedger, createWasiImports } from '../src/engine/guest/wasi.js';
import { GuestInstance, type LoadedGuest } from '../src/engine/guest/guest-instance.js';
import { inspectModule, rewriteModule } from '../src/engine/wasm-binary.js';
import type { CoreModuleSpec, GuestContextData, GuestResponse } from '../src/engine/protocol.js';
import { InMemoryBackend, jcoHostImports, type ContextData } from './in-memory-host.js';
import { checkSevenBody, httpRequest, kitchenSinkBytes } from './guests.js';
import { emptyResult, type BenchConfig, type HandlerName, type SectionResult } from './results.js';
import { sequentialThroughput, summarize, timeSequential } from './stats.js';

type Handler = (request: { context: GuestContextData; http: ReturnType<typeof httpRequest> }) => GuestResponse;
type Instantiate = LoadedGuest['instantiate'];

async function loadArtifact(config: BenchConfig): Promise<Artifact> {
  const prepared = await new ArtifactStore(join(config.workDir, 'artifacts')).prepare(kitchenSinkBytes());
  if (prepared.kind !== 'ok') throw new Error(`floor: prepare failed: ${prepared.problem.message}`);
  return prepared.artifact;
}

let requestCounter = 0;
function nextContext(): ContextData {
  return { requestId: `floor-${++requestCounter}`, tenantId: 'tenant-bench', extensionId: 'ext-bench', installId: 'install-bench', versionId: 'ver-1' };
}

function checkResponse(handler: HandlerName, response: GuestResponse, system: string): void {
  if (response.status !== 200) throw new Error(`${system} /${handler}: status ${response.status}`);
  if (handler === 'seven') checkSevenBody(system, new TextDecoder().decode(response.body));
}

export async function runFloor(config: BenchConfig): Promise<SectionResult> {
  const result = emptyResult('floor');
  const artifact = await loadArtifact(config);
  const glue = (await import(pathToFileURL(artifact.gluePath).href)) as { instantiate: Instantiate };
  const backend = new InMemoryBackend();
  let current = nextContext();
  const hostImports = jcoHostImports(backend, () => current);
  const n = config.quick ? { warm: 100, seq: 500 } : { warm: 300, seq: 3000 };
  const handlers: HandlerName[] = ['noop', 'seven'];

  // --- plain warm instance ---
  const modules = new Map<string, WebAssembly.Module>();
  for (const name of artifact.coreModules) modules.set(name, await WebAssembly.compile(await readFile(join(artifact.dir, name))));
  const wasi = createWasiImports({ write: () => {}, onPinnedDrop: () => {} }, new ResourceLedger());
  const { handler: call } = glue.instantiate(
    (name) => modules.get(name)!,
    { ...wasi, ...hostImports },
    (module, imports) => new WebAssembly.Instance(module, imports),
  ) as { handler: Handler };
  for (const handler of handlers) {
    const http = httpRequest(handler);
    const once = () => {
      current = nextContext();
      return call({ context: current, http });
    };
    checkResponse(handler, once(), 'floor');
    await timeSequential(n.warm, once);
    const latency = await timeSequential(n.seq, once);
    result.rows.push({ system: 'floor (warm, no isolation)', handler, latency: summarize(latency), throughput: sequentialThroughput(latency), note: 'main thread, one instance' });
  }

  // --- warm instance + snapshot restore, no worker ---
  const specs: CoreModuleSpec[] = [];
  for (const name of artifact.coreModules) {
    const rewritten = rewriteModule(await readFile(join(artifact.dir, name)), { maxMemoryPages: 4096 });
    const facts = inspectModule(rewritten.bytes);
    const mutable = new Set(facts.mutableGlobals);
    specs.push({
      name,
      module: await WebAssembly.compile(rewritten.bytes as Uint8Array<ArrayBuffer>),
      mutableGlobals: facts.exports.filter((e) => e.kind === 3 && mutable.has(e.index)).map((e) => e.name),
      tables: facts.exports.filter((e) => e.kind === 1).map((e) => e.name),
    });
  }
  const guest: LoadedGuest = { instantiate: glue.instantiate, modules: new Map(specs.map((s) => [s.name, s])), specsByModule: new Map(specs.map((s) => [s.module, s])), maxMemoryPages: 4096 };
  const fresh = () => {
    const instance = new GuestInstance(guest, hostImports, { write: () => {} });
    instance.takeSnapshot();
    return instance;
  };
  let instance = fresh();
  let retired = 0;
  for (const handler of handlers) {
    const http = httpRequest(handler);
    const restoreMs: number[] = [];
    const once = () => {
      current = nextContext();
      const response = instance.call(current, http);
      const started = performance.now();
      const restored = instance.restore();
      restoreMs.push(performance.now() - started);
      if (!restored) {
        retired++;
        instance = fresh();
      }
      return response;
    };
    checkResponse(handler, once(), 'floor + restore');
    await timeSequential(n.warm, once);
    restoreMs.length = 0;
    const latency = await timeSequential(n.seq, once);
    result.rows.push({ system: 'floor + snapshot restore', handler, latency: summarize(latency), throughput: sequentialThroughput(latency), note: 'main thread, restore after each request' });
    result.facts.push({ key: `floor.restore.${handler}`, label: `snapshot restore after /${handler} (memory ${(instance.memoryBytes() / 2 ** 20).toFixed(1)} MiB + globals), main thread, p50`, value: summarize(restoreMs).p50, unit: 'ms' });
  }
  if (retired > 0) result.notes.push(`floor + restore: ${retired} instance(s) could not be restored and were replaced`);
  return result;
}
