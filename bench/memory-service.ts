/**
 * The runner service with in-memory stand-ins where a request would touch the store: the
 * capabilities of the engine's in-memory row (in-memory-host.ts: storage in a Map, fixed secrets,
 * user and clients) and guest log records kept in memory. Everything else — HTTP, envelope,
 * admission, install lookup (registry on SQLite, cached), engine and workers — is `serve`'s, so
 * the stores benchmark (service-stores.ts) sees what a durable store costs behind the same
 * service. Started like `alga-runner serve` with the same flags and environment:
 * `node dist/bench/memory-service.js --host 127.0.0.1 --port 0 --data-dir <dir> --workers <n>`.
 */
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/service/config.js';
import { startService } from '../src/service/server.js';
import { closeOnSignals, printBanner } from '../src/cli/commands/serve.js';
import type { LogAppend, LogRecord, LogStore, Store } from '../src/store/index.js';
import { DEFAULT_MAX_LOG_RECORDS_PER_INSTALL } from '../src/store/logs.js';
import { InMemoryBackend, createInMemoryRegistry } from './in-memory-host.js';

/** Log records in memory, newest DEFAULT_MAX_LOG_RECORDS_PER_INSTALL per install, as the store keeps them. */
export function createMemoryLogStore(now: () => number = Date.now): LogStore {
  const byInstall = new Map<string, LogRecord[]>();
  let lastId = 0;
  const record = (r: LogAppend): LogRecord => ({ ...r, id: ++lastId, ts: new Date(r.ts ?? now()).toISOString(), truncated: r.truncated === true });
  return {
    async append(records: readonly LogAppend[]) {
      for (const r of records) {
        const list = byInstall.get(r.install) ?? [];
        list.push(record(r));
        if (list.length > DEFAULT_MAX_LOG_RECORDS_PER_INSTALL) list.shift();
        byInstall.set(r.install, list);
      }
    },
    async query(q) {
      const limit = Math.max(1, Math.min(q.limit ?? 100, 10_000));
      const matching = (byInstall.get(q.installId) ?? []).filter((r) => (q.requestId === undefined || r.request_id === q.requestId) && (q.afterId === undefined || r.id > q.afterId));
      return q.afterId === undefined ? matching.slice(-limit) : matching.slice(0, limit);
    },
    async deleteInstall(installId) {
      byInstall.delete(installId);
    },
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { host: { type: 'string' }, port: { type: 'string' }, 'data-dir': { type: 'string' }, workers: { type: 'string' } } });
  const config = loadConfig({ host: values.host, port: values.port, dataDir: values['data-dir'], workers: values.workers });
  const logs = createMemoryLogStore();
  const backend = new InMemoryBackend();
  const service = await startService(config, {
    seams: {
      adaptStore: (store: Store): Store => ({ ...store, logs }),
      registry: (_store, observer) => createInMemoryRegistry(backend, observer),
    },
  });
  printBanner(service);
  closeOnSignals(service);
}

await main();
