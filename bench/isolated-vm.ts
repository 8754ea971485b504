/**
 * Baseline (c): isolated-vm 5 (optional dependency) — what a Node user would pick for sandboxed JS.
 * The same handler logic as plain JS (a no-op, and the kitchen-sink's seven host calls, each a
 * synchronous ivm Callback into the same in-memory host functions), in a fresh Context per request.
 * The script is wrapped in an IIFE: top-level declarations in many Contexts of one Isolate leak
 * (research notes). Two figures:
 *  - sync: `runSync` on the main thread, one request at a time (lowest latency);
 *  - async: `run` on ivm's threads with one Isolate per lane and as many lanes as our workers,
 *    so its requests/s compares with ours at the same concurrency.
 */
import { InMemoryBackend, type Answer } from './in-memory-host.js';
import { emptyResult, progress, type BenchConfig, type HandlerName, type SectionResult } from './results.js';
import { WARM_UP, describeWarmUp, measureThroughput, sequentialThroughput, summarize, timeSequential, warmUntilSteady } from './stats.js';

/** The slice of isolated-vm's API used here (typed locally: the package is optional). */
interface IvmContext {
  global: { setSync(name: string, value: unknown, options?: { copy?: boolean }): void };
  release(): void;
}
interface IvmScript {
  runSync(context: IvmContext, options: { copy: true }): unknown;
  run(context: IvmContext, options: { copy: true }): Promise<unknown>;
}
interface IvmIsolate {
  compileScriptSync(code: string): IvmScript;
  createContextSync(): IvmContext;
  dispose(): void;
}
interface Ivm {
  Isolate: new (options: { memoryLimit: number }) => IvmIsolate;
  Callback: new (fn: (...args: never[]) => unknown) => unknown;
}

async function loadIvm(): Promise<Ivm | string> {
  const specifier = 'isolated-vm';
  try {
    const mod = (await import(specifier)) as { default?: Ivm } & Ivm;
    return mod.default ?? mod;
  } catch (e) {
    return e instanceof Error ? e.message.split('\n')[0]! : String(e);
  }
}

/** The kitchen-sink's `/noop` and `/seven`, as plain JS (no URL or TextEncoder in a bare isolate). */
const HANDLER_SCRIPT = `(() => {
  const attempt = (answer) => (answer.ok ? { ok: answer.value } : { err: answer.code });
  const routes = {
    '/noop': () => ({ status: 200, headers: [], body: undefined }),
    '/seven': () => {
      const ctx = host_getContext();
      host_info('seven: request ' + (ctx.requestId ?? '-'));
      const before = attempt(host_storageGet('bench', 'seven'));
      const after = attempt(host_storagePut({ namespace: 'bench', key: 'seven', value: [55], revision: undefined }));
      const secret = attempt(host_secretGet('bench'));
      const user = attempt(host_getUser());
      const clients = attempt(host_listClients({ page: 1, pageSize: 5 }));
      return {
        status: 200,
        headers: [{ name: 'content-type', value: 'application/json' }],
        body: JSON.stringify({
          tenant: ctx.tenantId,
          storage_get: 'ok' in before ? 'ok' : before.err,
          storage_put: 'ok' in after ? 'ok' : after.err,
          secret: 'ok' in secret ? 'ok' : secret.err,
          user: 'ok' in user ? user.ok.userId : user.err,
          clients: 'ok' in clients ? clients.ok.totalCount : clients.err,
        }),
      };
    },
  };
  const route = routes[request.url.split('?')[0]];
  return route ? route() : { status: 404, headers: [], body: undefined };
})()`;

/** Answers cross the isolate boundary as copies; u64 revisions travel as numbers. */
function plain<T>(answer: Answer<T>): Answer<unknown> {
  if (!answer.ok) return answer;
  const v = answer.value as { revision?: unknown } | undefined;
  return v && typeof v === 'object' && typeof v.revision === 'bigint' ? { ok: true, value: { ...v, revision: Number(v.revision) } } : answer;
}

export async function runIsolatedVm(config: BenchConfig): Promise<SectionResult> {
  const result = emptyResult('isolated-vm');
  const ivm = await loadIvm();
  if (typeof ivm === 'string') {
    result.notes.push(`isolated-vm rows skipped: the optional dependency did not load (${ivm})`);
    return result;
  }
  const backend = new InMemoryBackend();
  let counter = 0;
  const ctxData = () => ({ requestId: `ivm-${++counter}`, tenantId: 'tenant-bench', extensionId: 'ext-bench', installId: 'install-bench', versionId: 'ver-1' });
  const install = 'install-bench';
  const callbacks: Record<string, unknown> = {
    host_getContext: new ivm.Callback(() => backend.context(ctxData())),
    host_info: new ivm.Callback((m: string) => backend.log('info', m)),
    host_storageGet: new ivm.Callback((ns: string, key: string) => plain(backend.storageGet(install, ns, key))),
    host_storagePut: new ivm.Callback((e: { namespace: string; key: string; value: number[] }) =>
      plain(backend.storagePut(install, { namespace: e.namespace, key: e.key, value: Uint8Array.from(e.value), revision: undefined })),
    ),
    host_secretGet: new ivm.Callback((key: string) => plain(backend.secret(key))),
    host_getUser: new ivm.Callback(() => plain(backend.user('tenant-bench'))),
    host_listClients: new ivm.Callback((input: { page?: number; pageSize?: number }) => plain(backend.listClients(input))),
  };

  const isolates = Array.from({ length: Math.max(1, config.workers) }, () => new ivm.Isolate({ memoryLimit: 128 }));
  const scripts = isolates.map((iso) => iso.compileScriptSync(HANDLER_SCRIPT));
  const freshContext = (lane: number, handler: HandlerName): IvmContext => {
    const context = isolates[lane]!.createContextSync();
    for (const [name, cb] of Object.entries(callbacks)) context.global.setSync(name, cb);
    context.global.setSync('request', { method: 'GET', url: `/${handler}`, headers: [] }, { copy: true });
    return context;
  };
  const check = (handler: HandlerName, response: unknown) => {
    const r = response as { status: number; body?: string };
    if (r.status !== 200) throw new Error(`isolated-vm /${handler}: status ${r.status}`);
    if (handler === 'seven') {
      const body = JSON.parse(r.body ?? '{}') as Record<string, unknown>;
      if (body['storage_put'] !== 'ok' || body['secret'] !== 'ok' || body['user'] !== 'user-1' || body['clients'] !== 1) throw new Error(`isolated-vm /seven: calls failed: ${r.body}`);
    }
  };
  const n = config.quick ? { seq: 400, tput: 600 } : { seq: 1000, tput: 2000 };
  const warmUp = config.quick ? WARM_UP.quick : WARM_UP.full;

  try {
    for (const handler of ['noop', 'seven'] as HandlerName[]) {
      progress(`/${handler}`);
      const syncOnce = () => {
        const context = freshContext(0, handler);
        try {
          check(handler, scripts[0]!.runSync(context, { copy: true }));
        } finally {
          context.release();
        }
      };
      result.notes.push(describeWarmUp(`isolated-vm sync /${handler}`, await warmUntilSteady(warmUp, 1, syncOnce)));
      const syncLatency = await timeSequential(n.seq, syncOnce);
      result.rows.push({ system: 'isolated-vm, fresh Context (sync)', handler, latency: summarize(syncLatency), throughput: sequentialThroughput(syncLatency), note: 'runSync on the main thread' });

      const asyncOnce = async (lane: number) => {
        const context = freshContext(lane, handler);
        try {
          check(handler, await scripts[lane]!.run(context, { copy: true }));
        } finally {
          context.release();
        }
      };
      // every lane's isolate compiles the handler on its own: warm them all
      result.notes.push(describeWarmUp(`isolated-vm async /${handler}`, await warmUntilSteady(warmUp, isolates.length, asyncOnce)));
      const asyncLatency = await timeSequential(Math.floor(n.seq / 2), () => asyncOnce(0));
      // each lane owns an isolate, so no two runs queue on the same one
      const throughput = await measureThroughput(n.tput, isolates.length, (_i, lane) => asyncOnce(lane));
      result.rows.push({ system: 'isolated-vm, fresh Context (async)', handler, latency: summarize(asyncLatency), throughput, note: `run() on ivm threads, ${isolates.length} isolates` });
    }
  } finally {
    for (const iso of isolates) iso.dispose();
  }
  return result;
}
