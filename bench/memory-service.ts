/**
 * The runner service with in-memory stand-ins where a request would touch the store: the
 * capabilities of the engine's in-memory row (in-memory-host.ts: storage in a Map, fixed secrets,
 * user and clients) and guest log records kept in memory (they still go through the execution's
 * log and the service's pino log, as with a store). Everything else — HTTP, envelope,
 * admission, install lookup (registry on SQLite, cached), engine and workers — is `serve`'s, so
 * the stores benchmark (service-stores.ts) sees what a durable store costs behind the same
 * service. Started like `alga-runner serve` with the same flags and environment:
 * `node dist/bench/memory-service.js --host 127.0.0.1 --port 0 --data-dir <dir> --workers <n>`.
 */
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/service/config.js';
import { startService } from '../src/service/server.js';
import { closeOnSignals, printBanner } from '../src/cli/commands/serve.js';
import type { Store } from '../src/store/index.js';
import { createMemoryLogStore } from './memory-logs.js';
import { InMemoryBackend, createInMemoryRegistry } from './in-memory-host.js';

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { host: { type: 'string' }, port: { type: 'string' }, 'data-dir': { type: 'string' }, workers: { type: 'string' } } });
  const config = loadConfig({ host: values.host, port: values.port, dataDir: values['data-dir'], workers: values.workers });
  const logs = createMemoryLogStore();
  const backend = new InMemoryBackend();
  const service = await startService(config, {
    seams: {
      adaptStore: (store: Store): Store => ({ ...store, logs }),
      registry: (_store, observer) => createInMemoryRegistry(backend, observer, { executionLogs: true }),
    },
  });
  printBanner(service);
  closeOnSignals(service);
}

await main();
