/**
 * startService's seams (service/runtime.ts:RuntimeSeams), as the stores benchmark's in-memory
 * service uses them (bench/memory-service.ts): the same HTTP path, with the capabilities and the
 * log records of the stand-ins — nothing of the request reaches the store's tables.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createInstall, execute, guestJson, startTestService, uploadExample, type TestService } from './harness.js';
import { InMemoryBackend, createInMemoryRegistry } from '../../bench/in-memory-host.js';
import { createMemoryLogStore } from '../../bench/memory-logs.js';

const backend = new InMemoryBackend();
const logs = createMemoryLogStore();
let svc: TestService;
let installId: string;

before(async () => {
  svc = await startTestService({
    seams: {
      adaptStore: (store) => ({ ...store, logs }),
      registry: (_store, observer) => createInMemoryRegistry(backend, observer, { executionLogs: true }),
    },
  });
  await uploadExample(svc, 'kitchen-sink', { name: 'kitchen-sink', capabilities: ['cap:storage.kv', 'cap:log.emit', 'cap:context.read', 'cap:secrets.get', 'cap:user.read', 'cap:client.read'] });
  installId = await createInstall(svc, { tenant_id: 'tenant-a', extension_id: 'kitchen-sink' });
});
after(async () => svc?.close());

test("/seven through the service on the stand-ins: their storage, secrets and clients answer, its log record goes to theirs, the store's tables stay empty", async () => {
  const answer = await execute(svc, '/seven');
  assert.equal(answer.status, 200);
  assert.deepEqual(guestJson(answer.json), { tenant: 'tenant-a', storage_get: 'missing', storage_put: 'ok', secret: 'ok', user: 'user-1', clients: 1 });
  const stored = backend.storageGet(installId, 'bench', 'seven');
  assert.ok(stored.ok && new TextDecoder().decode(stored.value.value) === '7');
  assert.match((await logs.query({ installId })).map((r) => r.message).join('\n'), /seven: request/);

  const { db } = svc.running.runtime.store;
  assert.deepEqual(await db.selectFrom('kv_entries').select('key').execute(), []);
  assert.deepEqual(await db.selectFrom('log_records').select('id').execute(), []);
});
