/**
 * The worker's read path (src/store/sqlite-reader.ts): a second, read-only connection running the
 * store's own queries synchronously must answer exactly as the store does, and see every write the
 * store committed — including ones made after it opened.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore, SqliteReader, createKvReader, createSecretsReader, DEFAULT_KV_LIMITS, type Store } from '../../src/store/index.js';
import { createStoreTenantData, createTenantDataReader } from '../../src/store/tenant-data.js';
import type { ClientsListInput, ServicesListInput, TenantDataScope } from '../../src/store/tenant-data-model.js';
import { DEMO_CLIENTS, DEMO_SERVICES, seedDemoTenantData } from '../../src/capabilities/demo-data.js';

const KEY = Buffer.alloc(32, 3);
let dir: string;
let store: Store;
let reader: SqliteReader;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sqlite-reader-'));
  store = await openStore({ dataDir: dir, secretsKey: KEY });
  assert.ok(store.readOnlyFile);
  reader = SqliteReader.open(store.readOnlyFile.sqliteFile);
});
after(async () => {
  reader?.close();
  await store?.close();
  rmSync(dir, { recursive: true, force: true });
});

const bytes = (s: string) => new TextEncoder().encode(s);

test("kv reads match the store's, for writes committed after the reader opened", async () => {
  const kv = createKvReader(reader);
  const limits = { ...DEFAULT_KV_LIMITS, pageSize: 2 };
  assert.deepEqual(kv.get('i1', 'ns', 'a', limits), { kind: 'missing' });
  for (const key of ['c', 'a', 'b']) await store.kv.put('i1', { namespace: 'ns', key, value: bytes(key) });
  await store.kv.put('i1', { namespace: 'ns', key: 'a', value: bytes('a2') });
  await store.kv.put('i2', { namespace: 'ns', key: 'a', value: bytes('other install') });

  for (const key of ['a', 'b', 'zz']) assert.deepEqual(kv.get('i1', 'ns', key, limits), await store.kv.get('i1', 'ns', key, limits));
  const got = kv.get('i1', 'ns', 'a', limits);
  assert.equal(got.kind === 'ok' && new TextDecoder().decode(got.entry.value), 'a2');
  assert.equal(got.kind === 'ok' && got.entry.revision, 2);

  // paging: the limit's page size, keys after the cursor, byte order
  for (const cursor of [undefined, 'a', 'b', 'c']) assert.deepEqual(kv.list('i1', 'ns', cursor, limits), await store.kv.list('i1', 'ns', cursor, limits));
  const first = kv.list('i1', 'ns', undefined, limits);
  assert.deepEqual(first.kind === 'ok' && first.entries.map((e) => e.key), ['a', 'b']);

  // names the store refuses are refused the same way, without a query
  for (const [ns, key] of [
    ['', 'k'],
    ['ns', ''],
    ['n'.repeat(200), 'k'],
    ['ns', 'k\u0000'],
  ]) {
    assert.deepEqual(kv.get('i1', ns!, key!, limits), await store.kv.get('i1', ns!, key!, limits));
    assert.equal(kv.get('i1', ns!, key!, limits).kind, 'denied');
  }
  await store.kv.delete('i1', 'ns', 'b');
  assert.deepEqual(kv.get('i1', 'ns', 'b', limits), { kind: 'missing' });
});

test("a prepared read keeps the query's constants, takes each argument as its parameters, and refuses a build where it is not one", async () => {
  await store.kv.put('p1', { namespace: 'ns', key: 'x', value: bytes('1') });
  await store.kv.put('p2', { namespace: 'ns', key: 'y', value: bytes('2') });
  const keys = reader.prepare((db, namespace: string) => db.selectFrom('kv_entries').select('key').where('install_id', '=', 'p1').where('namespace', '=', namespace));
  assert.deepEqual(keys.all('ns'), [{ key: 'x' }]);
  assert.deepEqual(keys.all('other'), []);
  assert.throws(() => reader.prepare((db, key: string) => db.selectFrom('kv_entries').select('key').where('key', '=', key.toUpperCase())), /bug: argument 0 of a prepared query is not a parameter/);
  // an argument may be several parameters
  await store.kv.put('p3', { namespace: 'dup', key: 'dup', value: bytes('3') });
  const twice = reader.prepare((db, name: string) => db.selectFrom('kv_entries').select('install_id').where('key', '=', name).where('namespace', '=', name));
  assert.deepEqual(twice.all('dup'), [{ install_id: 'p3' }]);
  assert.deepEqual(twice.all('ns'), []);
});

test('secrets open with the key; expired, missing and undecryptable as the store says', async () => {
  const secrets = createSecretsReader(reader, KEY);
  await store.secrets.putSecrets('s1', { api: 'value-1', other: 'value-2' });
  await store.secrets.putSecrets('s2', { old: 'x' }, new Date(Date.now() - 1000));
  assert.deepEqual(secrets.getSecret('s1', 'api'), { kind: 'ok', value: 'value-1' });
  assert.deepEqual(secrets.getSecret('s1', 'nope'), { kind: 'missing' });
  assert.deepEqual(secrets.getSecret('s2', 'old'), { kind: 'expired' });
  assert.deepEqual(secrets.listSecretNames('s1'), ['api', 'other']);
  assert.deepEqual(secrets.listSecretNames('s2'), []);
  assert.deepEqual(createSecretsReader(reader, Buffer.alloc(32, 4)).getSecret('s1', 'api'), { kind: 'undecryptable' });
  assert.deepEqual(createSecretsReader(reader, null).getSecret('s1', 'api'), { kind: 'undecryptable' });
});

test("tenant data reads match the store's: search, inactive, kinds, paging, bad input, ids, tenants", async () => {
  const data = createStoreTenantData(store.db, store.readOnlyFile);
  await seedDemoTenantData(data, 'td-1');
  await data.replaceClients('td-2', DEMO_CLIENTS.slice(0, 2));
  const read = createTenantDataReader(reader);
  const scope = (tenantId: string): TenantDataScope => ({ tenantId, installId: null, user: null, log: () => {} });

  const clientInputs: ClientsListInput[] = [
    {},
    { search: 'dub' },
    { search: 'EXAMPLE' },
    { search: '%' },
    { includeInactive: true },
    { page: 2, pageSize: 3 },
    { page: 99 },
    { pageSize: 0 },
    { page: 0 },
  ];
  for (const tenant of ['td-1', 'td-2', 'nobody']) {
    for (const input of clientInputs) assert.deepEqual(read.listClients(tenant, input), await data.listClients(scope(tenant), input), `${tenant} ${JSON.stringify(input)}`);
  }
  const serviceInputs: ServicesListInput[] = [{}, { itemKind: 'product' }, { isActive: false }, { billingMethod: 'hourly' }, { search: 'hw-' }, { page: 2, pageSize: 4 }, { pageSize: 1000 }];
  for (const input of serviceInputs) assert.deepEqual(read.listServices('td-1', input), await data.listServices(scope('td-1'), input), JSON.stringify(input));
  for (const id of [DEMO_CLIENTS[4]!.clientId, 'no-such-client', '']) assert.deepEqual(read.getClient('td-1', id), await data.getClient(scope('td-1'), id), id);
  for (const id of [DEMO_SERVICES[0]!.serviceId, 'nope']) assert.deepEqual(read.getService('td-1', id), await data.getService(scope('td-1'), id), id);

  // what the equalities above rest on: real answers, not two empty ones
  const active = read.listClients('td-1', {});
  assert.ok(active.ok && active.value.totalCount === 11 && active.value.items[0]?.clientName === 'Acme Dental Group');
  assert.equal(read.listClients('td-1', { pageSize: 0 }).ok, false);
  const elsewhere = read.getClient('td-2', DEMO_CLIENTS[4]!.clientId);
  assert.ok(elsewhere.ok && elsewhere.value === undefined, "another tenant's client is not found");
  const own = read.getClient('td-1', DEMO_CLIENTS[4]!.clientId);
  assert.equal(own.ok && own.value?.clientName, 'Équipe Médicale Dubois');
});

test('a store with its own clock offers no worker reads (a clock cannot cross to a worker)', async () => {
  const clockDir = mkdtempSync(join(tmpdir(), 'sqlite-reader-clock-'));
  const clocked = await openStore({ dataDir: clockDir, now: () => 0 });
  try {
    assert.equal(clocked.readOnlyFile, null);
  } finally {
    await clocked.close();
    rmSync(clockDir, { recursive: true, force: true });
  }
  assert.deepEqual(store.readOnlyFile, { sqliteFile: join(dir, 'runner.db'), secretsKey: KEY });
});
