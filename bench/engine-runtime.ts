/**
 * Our engine assembled as the service assembles it: Engine + worker pool + a capability registry,
 * either the real one over a SQLite store in the run's scratch directory, or the in-memory stand-ins
 * (in-memory-host.ts) so the 7-call handler can be compared with the baselines like for like.
 */
import { mkdirSync, mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { Engine } from '../src/engine/engine.js';
import type { ExecuteOutcome } from '../src/engine/api.js';
import { openStore, type Store } from '../src/store/index.js';
import { createStoreTenantData } from '../src/store/tenant-data.js';
import { createCapabilityRegistry } from '../src/capabilities/index.js';
import type { CapabilityCallObserver } from '../src/capabilities/registry.js';
import type { CapabilityName, InstallView } from '../src/capabilities/capability.js';
import type { ExecutionContext, ExecutionUser, GuestHttpRequest } from '../src/contract/index.js';
import type { ExecutionLimits } from '../src/engine/limits.js';
import { InMemoryBackend, createInMemoryRegistry } from './in-memory-host.js';
import { progress, type BenchConfig } from './results.js';

/** `sqlite-normal`: the same store with RUNNER_SQLITE_SYNCHRONOUS=normal (commits without an fsync) */
/** `sqlite-normal-round-trips`: that store with the workers' reads turned off (every call a round trip), for comparison */
/** `memory-round-trips`: the in-memory stand-ins without their worker side, for comparison */
export type CapabilityBackend = 'sqlite' | 'sqlite-normal' | 'sqlite-normal-round-trips' | 'memory' | 'memory-round-trips';

const TENANT = 'tenant-bench';
const INSTALL = 'install-bench';
const GRANTS: ReadonlySet<CapabilityName> = new Set<CapabilityName>(['cap:context.read', 'cap:log.emit', 'cap:storage.kv', 'cap:secrets.get', 'cap:user.read', 'cap:client.read', 'cap:service.read']);
const USER: ExecutionUser = {
  userId: 'user-1',
  userEmail: 'user@example.test',
  userName: 'Bench User',
  userType: 'internal',
  clientName: 'Bench Client',
  clientId: 'client-1',
  additionalFields: {},
};
const INSTALL_VIEW: InstallView = { installId: INSTALL, tenantId: TENANT, extensionId: 'ext-bench', versionId: 'ver-1', config: {}, egressAllow: [], uiProxy: null };

export interface BenchEngine {
  engine: Engine;
  install(bytes: Uint8Array): Promise<string>;
  execute(contentHash: string, request: GuestHttpRequest, limits?: Partial<ExecutionLimits>): Promise<ExecuteOutcome>;
  close(): Promise<void>;
}

let requestCounter = 0;

export async function createBenchEngine(config: BenchConfig, backend: CapabilityBackend, observer?: CapabilityCallObserver): Promise<BenchEngine> {
  const cacheDir = join(config.workDir, 'artifacts');
  let store: Store | null = null;
  let registry;
  if (backend !== 'memory' && backend !== 'memory-round-trips') {
    mkdirSync(join(config.workDir, 'stores'), { recursive: true });
    const dataDir = mkdtempSync(join(config.workDir, 'stores', 'sqlite-'));
    store = await openStore({ dataDir, secretsKey: Buffer.alloc(32, 7), sqliteSynchronous: backend === 'sqlite' ? 'full' : 'normal' });
    const put = await store.secrets.putSecrets(INSTALL, { bench: 'bench-secret' }, undefined);
    if (put.kind !== 'ok') throw new Error(`could not store the bench secret: ${put.kind}`);
    const workerReads = backend !== 'sqlite-normal-round-trips';
    registry = createCapabilityRegistry({ store, tenantData: createStoreTenantData(store.db, store.readOnlyFile), http: { allowPrivate: false }, observer, workerReads });
  } else {
    registry = createInMemoryRegistry(new InMemoryBackend(), observer, { workerReads: backend === 'memory' });
  }
  progress(`start the engine (${backend} capabilities)`);
  const engine = await Engine.create({ cacheDir, registry, workers: config.workers });
  let logRecords = 0;
  return {
    engine,
    async install(bytes) {
      const prepared = await engine.prepare(bytes);
      if (prepared.kind !== 'ok') throw new Error(`prepare failed: ${prepared.problem.message}`);
      return prepared.artifact.contentHash;
    },
    execute(contentHash, request, limits) {
      const ctx: ExecutionContext = {
        requestId: `bench-${++requestCounter}`,
        tenantId: TENANT,
        extensionId: 'ext-bench',
        installId: INSTALL,
        versionId: 'ver-1',
        contentHash,
        user: USER,
        config: {},
      };
      // log records are counted, as the service would hand them on; none is printed
      return engine.execute({ contentHash, ctx, install: INSTALL_VIEW, grants: GRANTS, request, limits, onLog: () => logRecords++ });
    },
    async close() {
      await engine.close();
      await store?.close();
    },
  };
}

export function responseBody(outcome: ExecuteOutcome, what: string): string {
  if (outcome.kind !== 'ok') throw new Error(`${what}: fault ${outcome.code}: ${outcome.message}`);
  return new TextDecoder().decode(outcome.response.body ?? new Uint8Array());
}
