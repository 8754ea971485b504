// cap:client.read — alga:extension/clients over both backends: Alga's internal API (a real
// loopback server following its contract) and the embedded store (real SQLite, demo data).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { createClientsCapability } from '../../src/capabilities/clients.js';
import { createAlgaApiTenantData } from '../../src/capabilities/tenant-data-api.js';
import { DEMO_CLIENTS, seedDemoTenantData } from '../../src/capabilities/demo-data.js';
import { err, type Capability, type HostResult } from '../../src/capabilities/capability.js';
import { CapabilityRegistry } from '../../src/capabilities/registry.js';
import { createStoreTenantData } from '../../src/store/tenant-data.js';
import { openStore, type Store } from '../../src/store/index.js';
import type { ExecutionContext, ExecutionView } from '../../src/contract/index.js';
import type { TenantDataBackend } from '../../src/store/tenant-data-model.js';
import { RUNNER_TOKEN, USER, executionContext, okValue, recordingServices, startFakeAlga, type FakeAlga, type RecordingServices } from './tenant-data-fixtures.js';

const row = (clientId: string, clientName: string, extra: Record<string, unknown> = {}) => ({
  clientId,
  clientName,
  clientType: 'company',
  isInactive: false,
  defaultCurrencyCode: 'USD',
  accountManagerId: null,
  accountManagerName: null,
  billingEmail: null,
  ...extra,
});

async function call(capability: Capability<null, null>, fn: string, args: unknown[], ctx: ExecutionContext, services: RecordingServices): Promise<HostResult> {
  const impl = capability.interfaces[0];
  assert.ok(impl);
  const f = impl.functions[fn];
  assert.ok(f, `no function ${fn}`);
  return f({ args, ctx, config: null, state: null, services });
}

describe('clients capability over the Alga internal API', () => {
  let alga: FakeAlga;
  let capability: Capability<null, null>;

  before(async () => {
    alga = await startFakeAlga({
      'inst-1': {
        clients: [
          row('c-1', 'Zulu Systems', { billingEmail: 'ap@zulu.example', accountManagerId: 'u-1', accountManagerName: 'Sarah Chen' }),
          row('c-2', 'acme Dental', { clientType: null, defaultCurrencyCode: undefined }),
          row('c-3', 'Old Client', { isInactive: true }),
          // malformed: isInactive is not a boolean, and one without a client id
          row('c-4', 'Broken Row', { isInactive: 'no' }),
          { clientName: 'No Id Ltd', isInactive: false },
        ],
      },
      'inst/with space': { clients: [row('c-9', 'Encoded Install')] },
      'inst-item': { clients: [row('c-5', 'Item Spelling')], getAnswerKey: 'item' },
      'inst-403': { status: 403 },
      'inst-400': { status: 400 },
      'inst-500': { status: 500 },
      'inst-502': { status: 502 },
      'inst-not-json': { rawAnswer: '<html>oops</html>' },
      'inst-bad-shape': { rawAnswer: JSON.stringify({ rows: [] }) },
      'inst-big': { rawAnswer: JSON.stringify({ items: [row('c-1', 'x'.repeat(5000))], totalCount: 1, page: 1, pageSize: 25 }) },
      'inst-hang': { hang: true },
    });
    capability = createClientsCapability(createAlgaApiTenantData({ baseUrl: alga.baseUrl, runnerAuthToken: RUNNER_TOKEN, maxResponseBytes: 4096 }));
  });
  after(async () => alga?.close());

  test('list: sends the contract request and answers in jco’s shape; malformed rows skipped with a log line', async () => {
    const services = recordingServices();
    const before = alga.requests.length;
    const result = await call(capability, 'listClients', [{}], executionContext(), services);
    assert.deepEqual(okValue(result), {
      items: [
        {
          clientId: 'c-2',
          clientName: 'acme Dental',
          clientType: undefined,
          isInactive: false,
          defaultCurrencyCode: undefined,
          accountManagerId: undefined,
          accountManagerName: undefined,
          billingEmail: undefined,
        },
        {
          clientId: 'c-1',
          clientName: 'Zulu Systems',
          clientType: 'company',
          isInactive: false,
          defaultCurrencyCode: 'USD',
          accountManagerId: 'u-1',
          accountManagerName: 'Sarah Chen',
          billingEmail: 'ap@zulu.example',
        },
      ],
      // Alga counted the two broken rows as matches; the runner reports its count unchanged.
      totalCount: 4,
      page: 1,
      pageSize: 25,
    });
    const warnings = services.logs.filter((l) => l.level === 'warn');
    assert.equal(warnings.length, 2);
    assert.match(warnings[0]?.message ?? '', /skipped a malformed row \(isInactive: /);
    assert.match(warnings[1]?.message ?? '', /skipped a malformed row \(clientId: /);

    assert.equal(alga.requests.length, before + 1);
    const sent = alga.requests.at(-1);
    assert.equal(sent?.path, '/api/internal/ext-clients/install/inst-1');
    assert.equal(sent?.headers['x-runner-auth'], RUNNER_TOKEN);
    assert.equal(sent?.headers['content-type'], 'application/json');
    assert.deepEqual(sent?.body, {
      operation: 'list',
      input: { includeInactive: false, page: 1, pageSize: 25 },
      user: { userId: USER.userId, userEmail: USER.userEmail, userName: USER.userName, userType: USER.userType, clientName: USER.clientName, clientId: 'c-acme' },
    });
  });

  test('list passes search (trimmed), include-inactive and paging through', async () => {
    const services = recordingServices();
    const result = await call(capability, 'listClients', [{ search: '  OLD ', includeInactive: true, page: 1, pageSize: 5 }], executionContext({ user: null }), services);
    assert.deepEqual(
      (okValue(result) as { items: Array<{ clientId: string }> }).items.map((c) => c.clientId),
      ['c-3'],
    );
    assert.deepEqual(alga.requests.at(-1)?.body, { operation: 'list', input: { search: 'OLD', includeInactive: true, page: 1, pageSize: 5 } });
  });

  test('get: found, not found (option none), and Alga’s `{item}` spelling; the install id is path-encoded', async () => {
    const services = recordingServices();
    const found = okValue(await call(capability, 'getClient', ['c-1'], executionContext(), services)) as { clientName: string };
    assert.equal(found.clientName, 'Zulu Systems');
    const sent = alga.requests.at(-1)?.body;
    assert.equal(sent?.['operation'], 'get');
    assert.equal(sent?.['clientId'], 'c-1');
    assert.deepEqual(sent?.['input'], { clientId: 'c-1' });

    assert.deepEqual(await call(capability, 'getClient', ['nope'], executionContext(), services), { kind: 'ok', value: undefined });
    const item = okValue(await call(capability, 'getClient', ['c-5'], executionContext({ installId: 'inst-item' }), services)) as { clientId: string };
    assert.equal(item.clientId, 'c-5');
    const encoded = okValue(await call(capability, 'getClient', ['c-9'], executionContext({ installId: 'inst/with space' }), services)) as { clientId: string };
    assert.equal(encoded.clientId, 'c-9');
    assert.equal(alga.requests.at(-1)?.path, '/api/internal/ext-clients/install/inst%2Fwith%20space');
    // A malformed row in a get answer is skipped too: the guest sees none, the log says why.
    assert.deepEqual(await call(capability, 'getClient', ['c-4'], executionContext(), services), { kind: 'ok', value: undefined });
    assert.match(services.logs.at(-1)?.message ?? '', /get: skipped a malformed row/);
  });

  const statusCases: Array<[string, string, string]> = [
    ['inst-403', 'not-allowed', 'HTTP 403'],
    ['inst-400', 'invalid-input', 'HTTP 400'],
    ['inst-500', 'internal', 'HTTP 500'],
    ['inst-502', 'internal', 'HTTP 502'],
    ['unknown-install', 'internal', 'HTTP 404'],
    ['inst-not-json', 'internal', 'not JSON'],
    ['inst-bad-shape', 'internal', 'malformed'],
    ['inst-big', 'internal', 'larger than 4096 bytes'],
  ];
  for (const [installId, code, logged] of statusCases) {
    test(`${installId} → ${code}, with the reason in the install log`, async () => {
      const services = recordingServices();
      assert.deepEqual(await call(capability, 'listClients', [{}], executionContext({ installId }), services), err(code));
      assert.equal(services.logs.length, 1);
      assert.ok(services.logs[0]?.message.includes(logged), services.logs[0]?.message);
      assert.equal(services.logs[0]?.level, code === 'internal' ? 'error' : 'warn');
    });
  }

  test('a wrong runner token → not-allowed, and the token never appears in the log', async () => {
    const wrong = createClientsCapability(createAlgaApiTenantData({ baseUrl: alga.baseUrl, runnerAuthToken: 'not-the-token-9f3' }));
    const services = recordingServices();
    assert.deepEqual(await call(wrong, 'getClient', ['c-1'], executionContext(), services), err('not-allowed'));
    assert.equal(alga.requests.at(-1)?.headers['x-runner-auth'], 'not-the-token-9f3');
    assert.match(services.logs[0]?.message ?? '', /HTTP 401\): Invalid runner token/);
    assert.ok(!JSON.stringify(services.logs).includes('not-the-token-9f3'));
    assert.ok(!JSON.stringify(services.logs).includes(RUNNER_TOKEN));
  });

  test('invalid input is refused locally without a request', async () => {
    const before = alga.requests.length;
    for (const input of [{ page: 0 }, { pageSize: 101 }, { pageSize: 2.5 }]) {
      assert.deepEqual(await call(capability, 'listClients', [input], executionContext(), recordingServices()), err('invalid-input'));
    }
    assert.equal(alga.requests.length, before);
  });

  test('an execution without an install id cannot use the API → internal, no request', async () => {
    const before = alga.requests.length;
    const services = recordingServices();
    assert.deepEqual(await call(capability, 'listClients', [{}], executionContext({ installId: null }), services), err('internal'));
    assert.equal(alga.requests.length, before);
    assert.match(services.logs[0]?.message ?? '', /needs an install id/);
  });

  test('the call is aborted when the execution ends', async () => {
    const services = recordingServices();
    alga.events.once('request', () => services.controller.abort());
    const result = await call(capability, 'listClients', [{}], executionContext({ installId: 'inst-hang' }), services);
    assert.deepEqual(result, err('internal'));
    assert.match(services.logs[0]?.message ?? '', /aborted because the execution ended/);
  });

  test('an upstream that never answers times out → internal', async () => {
    const slow = createClientsCapability(createAlgaApiTenantData({ baseUrl: alga.baseUrl, runnerAuthToken: RUNNER_TOKEN, timeoutMs: 150 }));
    const services = recordingServices();
    const started = performance.now();
    assert.deepEqual(await call(slow, 'listClients', [{}], executionContext({ installId: 'inst-hang' }), services), err('internal'));
    assert.ok(performance.now() - started < 5000);
    assert.match(services.logs[0]?.message ?? '', /timed out/);
  });

  test('an unreachable Alga → internal', async () => {
    // Take a free port and close it again, so nothing listens there.
    const probe = createServer().listen(0, '127.0.0.1');
    await once(probe, 'listening');
    const { port } = probe.address() as { port: number };
    probe.close();
    await once(probe, 'close');
    const down = createClientsCapability(createAlgaApiTenantData({ baseUrl: `http://127.0.0.1:${port}`, runnerAuthToken: RUNNER_TOKEN }));
    const services = recordingServices();
    assert.deepEqual(await call(down, 'getClient', ['c-1'], executionContext(), services), err('internal'));
    assert.match(services.logs[0]?.message ?? '', /ECONNREFUSED/);
  });

  test('bad backend configuration is refused at construction', () => {
    assert.throws(() => createAlgaApiTenantData({ baseUrl: 'ftp://alga.example', runnerAuthToken: 't' }), /http\(s\)/);
    assert.throws(() => createAlgaApiTenantData({ baseUrl: 'http://alga.example', runnerAuthToken: '' }), /token/);
  });
});

describe('clients capability over the embedded store (SQLite, demo data)', () => {
  let dir: string;
  let store: Store;
  let backend: TenantDataBackend;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'clients-cap-'));
    store = await openStore({ dataDir: dir });
    const data = createStoreTenantData(store.db);
    await seedDemoTenantData(data, 'tenant-a');
    backend = data;
  });
  after(async () => {
    await store?.close();
    await rm(dir, { recursive: true, force: true });
  });

  test('list answers the execution tenant’s active demo clients, sorted case- and accent-insensitively', async () => {
    const capability = createClientsCapability(backend);
    const result = okValue(await call(capability, 'listClients', [{ pageSize: 100 }], executionContext(), recordingServices())) as {
      items: Array<{ clientName: string }>;
      totalCount: number;
    };
    assert.equal(result.totalCount, DEMO_CLIENTS.length - 2);
    assert.deepEqual(
      result.items.map((c) => c.clientName),
      [
        'Acme Dental Group',
        'Brightwater Logistics',
        'Cedar Ridge Law Partners',
        'Delta Veterinary Clinics',
        'Équipe Médicale Dubois',
        'Fairview Property Management',
        'Granite Peak Engineering',
        'Harbor City Credit Union',
        'Jordan Miller',
        'Lakeside Montessori School',
        'maple & oak accounting',
      ],
    );
    // Another tenant sees nothing of tenant-a's data.
    const other = okValue(await call(capability, 'listClients', [{}], executionContext({ tenantId: 'tenant-b' }), recordingServices()));
    assert.deepEqual(other, { items: [], totalCount: 0, page: 1, pageSize: 25 });
  });

  test("the store never asks for the execution's end signal (making one costs each execution an abort on its end)", async () => {
    const capability = createClientsCapability(backend);
    const services = recordingServices();
    let asked = 0;
    const counting = Object.defineProperty({ ...services }, 'signal', {
      get: () => {
        asked++;
        return services.signal;
      },
    });
    okValue(await call(capability, 'listClients', [{}], executionContext(), counting));
    okValue(await call(capability, 'getClient', [DEMO_CLIENTS[0]?.clientId], executionContext(), counting));
    assert.equal(asked, 0);
  });

  test('through the registry: denied without cap:client.read, served with it', async () => {
    const registry = new CapabilityRegistry().register(createClientsCapability(backend));
    const scope = (granted: boolean): ExecutionView => ({
      ctx: executionContext(),
      install: { installId: 'inst-1', tenantId: 'tenant-a', extensionId: 'ext-1', versionId: null, config: {}, egressAllow: [], uiProxy: null },
      grants: new Set(granted ? ['cap:client.read' as const] : []),
      services: recordingServices(),
      states: new Map(),
    });
    for (const fn of ['listClients', 'getClient']) {
      assert.deepEqual(await registry.invoke(scope(false), 'alga:extension/clients', fn, [fn === 'listClients' ? {} : DEMO_CLIENTS[0]?.clientId]), err('not-allowed'));
    }
    const got = await registry.invoke(scope(true), 'alga:extension/clients', 'getClient', [DEMO_CLIENTS[0]?.clientId]);
    assert.deepEqual(got, { kind: 'ok', value: DEMO_CLIENTS[0] });
  });
});
