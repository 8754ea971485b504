/**
 * A real runtime for tests: engine + worker pool + capability registry over a fresh SQLite store in
 * a temp dir. Guests are the components `npm run examples` builds into .cache/examples.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Engine } from '../../src/engine/engine.js';
import type { ExecuteOutcome, LogRecord } from '../../src/engine/api.js';
import { openStore, type OpenStoreOptions, type Store } from '../../src/store/index.js';
import type { KvAccess } from '../../src/store/kv.js';
import { createStoreTenantData, type StoreTenantData } from '../../src/store/tenant-data.js';
import { createCapabilityRegistry } from '../../src/capabilities/index.js';
import type { CapabilityName, InstallView } from '../../src/capabilities/capability.js';
import type { ExecutionContext, ExecutionUser } from '../../src/contract/index.js';
import type { ExecutionLimits } from '../../src/engine/limits.js';

export const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

export function examplePath(name: string): string {
  return join(repoRoot, '.cache', 'examples', `${name}.wasm`);
}

export function exampleBytes(name: string): Uint8Array {
  return readFileSync(examplePath(name));
}

export interface TestRuntime {
  engine: Engine;
  store: Store;
  tenantData: StoreTenantData;
  dir: string;
  install(name: string): Promise<string>;
  run(contentHash: string, url: string, options?: RunOptions): Promise<ExecuteOutcome & { logs: LogRecord[] }>;
  close(): Promise<void>;
}

export interface RunOptions {
  method?: string;
  body?: string | Uint8Array;
  headers?: [string, string][];
  tenant?: string;
  grants?: CapabilityName[];
  limits?: Partial<ExecutionLimits>;
  instanceMode?: 'fresh' | 'reuse';
  install?: Partial<InstallView>;
  user?: ExecutionUser | null;
  requestId?: string;
}

let counter = 0;

export interface TestRuntimeOptions {
  workers?: number;
  maxGuestsPerWorker?: number;
  /** Engine option: linear memory each worker's idle instances may hold (MiB) */
  instanceMemoryMb?: number;
  dir?: string;
  /** Engine option: the main thread's hot-wait window (ms) */
  hotWaitMs?: number;
  /** Engine option: the cores the hot wait assumes */
  cores?: number;
  /** how to open the store (test/store/backends.ts gives SQLite and PostgreSQL legs); default: SQLite in `dir` */
  store?: OpenStoreOptions;
  /** storage over something else than the store's own kv (made from the opened store) */
  kvOf?: (store: Store) => KvAccess;
}

export async function createTestRuntime(options: TestRuntimeOptions = {}): Promise<TestRuntime> {
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'alga-runner-test-'));
  const store = await openStore({ dataDir: dir, ...options.store, secretsKey: Buffer.alloc(32, 7) });
  const tenantData = createStoreTenantData(store.db, store.readOnlyFile, null, { changes: store.changes });
  const registry = createCapabilityRegistry({ store, tenantData, http: { allowPrivate: true }, ...(options.kvOf && { kv: options.kvOf(store) }) });
  const engine = await Engine.create({
    cacheDir: join(dir, 'artifacts'),
    registry,
    workers: options.workers ?? 1,
    maxGuestsPerWorker: options.maxGuestsPerWorker,
    instanceMemoryMb: options.instanceMemoryMb,
    hotWaitMs: options.hotWaitMs,
    cores: options.cores,
  });
  return {
    engine,
    store,
    tenantData,
    dir,
    async install(name) {
      const prepared = await engine.prepare(exampleBytes(name));
      if (prepared.kind !== 'ok') throw new Error(`example ${name} failed to prepare: ${prepared.problem.message}`);
      return prepared.artifact.contentHash;
    },
    async run(contentHash, url, o = {}) {
      const tenant = o.tenant ?? 'tenant-a';
      const installId = o.install?.installId ?? `install-${tenant}`;
      const requestId = o.requestId ?? `req-${++counter}`;
      const ctx: ExecutionContext = {
        requestId,
        tenantId: tenant,
        extensionId: 'ext-1',
        installId,
        versionId: 'ver-1',
        contentHash,
        user: o.user ?? null,
        config: {},
      };
      const install: InstallView = { installId, tenantId: tenant, extensionId: 'ext-1', versionId: 'ver-1', config: {}, egressAllow: [], uiProxy: null, ...o.install };
      const logs: LogRecord[] = [];
      const body = typeof o.body === 'string' ? new TextEncoder().encode(o.body) : o.body;
      const outcome = await engine.execute({
        contentHash,
        ctx,
        install,
        grants: new Set(o.grants ?? ['cap:context.read', 'cap:log.emit', 'cap:user.read']),
        request: { method: o.method ?? 'GET', url, headers: (o.headers ?? []).map(([name, value]) => ({ name, value })), body },
        limits: o.limits,
        instanceMode: o.instanceMode,
        onLog: (r) => logs.push(r),
      });
      return { ...outcome, logs };
    },
    async close() {
      await engine.close();
      await store.close();
      if (!options.dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function bodyText(outcome: ExecuteOutcome): string {
  if (outcome.kind !== 'ok') throw new Error(`expected a response, got fault ${outcome.code}: ${outcome.message}`);
  return new TextDecoder().decode(outcome.response.body ?? new Uint8Array());
}

export function bodyJson<T = Record<string, unknown>>(outcome: ExecuteOutcome): T {
  return JSON.parse(bodyText(outcome)) as T;
}
