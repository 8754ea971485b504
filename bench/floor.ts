/**
 * Baseline (b), the floor: one warm instance called directly on the main thread, no worker, no
 * isolation — transpiled like the engine does (sync instantiation, no WASI shim, the engine's glue
 * patches) via the engine's ArtifactStore, with our WASI and the in-memory host functions.
 *
 * Also "floor + restore": the same, but through the engine's GuestInstance with a snapshot restore
 * after each request — fresh-instance semantics without the worker and bridge, which splits ours'
 * cost into restore vs. isolation.
 */
import { ResourceLedger, createWasiImports } from '../src/engine/guest/wasi.js';
import { GuestInstance } from '../src/engine/guest/guest-instance.js';
import { loadGlue } from '../src/engine/guest/glue.js';
import type { CoreModuleSpec } from '../src/engine/protocol.js';
import type { GuestContextData, GuestResponse } from '../src/contract/index.js';
import { InMemoryBackend, jcoHostImports, type ContextData } from './in-memory-host.js';
import { checkSevenBody, httpRequest } from './guests.js';
import { compileSpec, kitchenSinkArtifact, loadedGuest, readCoreModules, rewriteForRestore } from './guest-loading.js';
import { emptyResult, progress, type BenchConfig, type HandlerName, type SectionResult } from './results.js';
import { WARM_UP, describeWarmUp, sequentialThroughput, summarize, timeSequential, warmUntilSteady } from './stats.js';

type Handler = (request: { context: GuestContextData; http: ReturnType<typeof httpRequest> }) => GuestResponse;

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
  const artifact = await kitchenSinkArtifact(config);
  const instantiate = loadGlue(artifact.gluePath);
  const coreBytes = await readCoreModules(artifact);
  const backend = new InMemoryBackend();
  let current = nextContext();
  const hostImports = jcoHostImports(backend, () => current);
  const n = { seq: config.quick ? 500 : 2000 };
  const warmUp = config.quick ? WARM_UP.quick : WARM_UP.full;
  const handlers: HandlerName[] = ['noop', 'seven'];

  progress('warm instance');
  // --- plain warm instance ---
  const modules = new Map<string, WebAssembly.Module>();
  for (const [name, bytes] of coreBytes) modules.set(name, await WebAssembly.compile(bytes as Uint8Array<ArrayBuffer>));
  const wasi = createWasiImports({ write: () => {}, onPinnedDrop: () => {} }, new ResourceLedger());
  const { handler: call } = instantiate(
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
    result.notes.push(describeWarmUp(`floor /${handler}`, await warmUntilSteady(warmUp, 1, once)));
    const latency = await timeSequential(n.seq, once);
    result.rows.push({ system: 'floor (warm, no isolation)', handler, latency: summarize(latency), throughput: sequentialThroughput(latency), note: 'main thread, one instance' });
  }

  // --- warm instance + snapshot restore, no worker ---
  progress('warm instance + restore');
  const specs: CoreModuleSpec[] = [];
  for (const [name, bytes] of coreBytes) specs.push(await compileSpec(rewriteForRestore(name, bytes)));
  const guest = loadedGuest(artifact, instantiate, specs);
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
    const restoredKiB: number[] = [];
    const once = () => {
      current = nextContext();
      const response = instance.call(current, http);
      const started = performance.now();
      const restored = instance.restore();
      restoreMs.push(performance.now() - started);
      restoredKiB.push(instance.restoredBytes / 1024);
      if (!restored) {
        retired++;
        instance = fresh();
      }
      return response;
    };
    checkResponse(handler, once(), 'floor + restore');
    result.notes.push(describeWarmUp(`floor + restore /${handler}`, await warmUntilSteady(warmUp, 1, once)));
    restoreMs.length = 0;
    restoredKiB.length = 0;
    const latency = await timeSequential(n.seq, once);
    result.rows.push({ system: 'floor + snapshot restore', handler, latency: summarize(latency), throughput: sequentialThroughput(latency), note: 'main thread, restore after each request' });
    result.facts.push({
      key: `floor.restored-bytes.${handler}`,
      label: `memory a restore after /${handler} copies (${instance.tracksWrites ? 'write tracking: marked 16 KiB blocks and the next' : 'all of it: writes not tracked'}), p50`,
      value: summarize(restoredKiB).p50,
      unit: 'KiB',
    });
    result.facts.push({
      key: `floor.restore.${handler}`,
      label: `snapshot restore after /${handler} (memory ${(instance.memoryBytes() / 2 ** 20).toFixed(1)} MiB + globals), main thread, p50`,
      value: summarize(restoreMs).p50,
      unit: 'ms',
    });
  }
  if (retired > 0) result.notes.push(`floor + restore: ${retired} instance(s) could not be restored and were replaced`);

  // How much of linear memory one request really changes, at two granularities: the floor for what
  // any restore must copy (the engine's write tracking marks 16 KiB blocks and copies each marked
  // block and the next; see the restore's bytes above).
  for (const handler of handlers) {
    const probe = fresh();
    const pristine = new Uint8Array(probe.memories[0]!.buffer).slice();
    current = nextContext();
    probe.call(current, httpRequest(handler));
    const after = new Uint8Array(probe.memories[0]!.buffer);
    for (const block of [4096, 65536]) {
      const blocks = Math.ceil(pristine.byteLength / block);
      let dirty = 0;
      for (let b = 0; b < blocks; b++) {
        const start = b * block;
        if (!Buffer.from(after.buffer, start, Math.min(block, pristine.byteLength - start)).equals(pristine.subarray(start, start + block))) dirty++;
      }
      result.facts.push({
        key: `floor.dirty.${handler}.${block}`,
        label: `memory blocks one /${handler} writes, ${block / 1024} KiB blocks (of ${blocks})`,
        value: (100 * dirty) / blocks,
        unit: '%',
        detail: `${dirty} blocks`,
      });
    }
  }
  return result;
}
