// cap:service.read — alga:extension/services over Alga's internal API (a real loopback server
// following its contract) and over the embedded store (real SQLite, demo data).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServicesCapability } from '../../src/capabilities/services.js';
import { createAlgaApiTenantData } from '../../src/capabilities/tenant-data-api.js';
import { DEMO_SERVICES, seedDemoTenantData } from '../../src/capabilities/demo-data.js';
import { err, type Capability, type HostResult } from '../../src/capabilities/capability.js';
import { CapabilityRegistry } from '../../src/capabilities/registry.js';
import { createStoreTenantData } from '../../src/store/tenant-data.js';
import { openStore, type Store } from '../../src/store/index.js';
import type { ExecutionContext, ExecutionView } from '../../src/contract/index.js';
import type { ServiceSummary } from '../../src/store/tenant-data-model.js';
import { RUNNER_TOKEN, executionContext, okValue, recordingServices, startFakeAlga, type FakeAlga, type RecordingServices } from './tenant-data-fixtures.js';

const row = (serviceId: string, serviceName: string, extra: Record<string, unknown> = {}) => ({
  serviceId,
  serviceName,
  itemKind: 'service',
  billingMethod: 'fixed',
  serviceTypeId: null,
  serviceTypeName: null,
  defaultRate: 45,
  unitOfMeasure: 'device/month',
  unitCode: 'EA', // a field this runner does not know: ignored, not an error
  isActive: true,
  sku: null,
  ...extra,
});

async function call(capability: Capability<null, null>, fn: string, args: unknown[], ctx: ExecutionContext, services: RecordingServices): Promise<HostResult> {
  const f = capability.interfaces[0]?.functions[fn];
  assert.ok(f, `no function ${fn}`);
  return f({ args, ctx, config: null, state: null, services });
}

describe('services capability over the Alga internal API', () => {
  let alga: FakeAlga;
  let capability: Capability<null, null>;

  before(async () => {
    alga = await startFakeAlga({
      'inst-1': {
        services: [
          row('s-1', 'Managed Workstation', { sku: 'MSP-WKS', serviceTypeId: 'st-1', serviceTypeName: 'Managed Services' }),
          row('s-2', 'FortiGate 60F', { itemKind: 'product', defaultRate: 895.5, unitOfMeasure: 'each', sku: 'HW-FG60F' }),
          row('s-3', 'Metered Backup', { billingMethod: 'per_unit' }), // a billing method the WIT does not have
          row('s-4', 'Legacy AV', { itemKind: 'product', billingMethod: 'usage', isActive: false, defaultRate: '4.00' }),
        ],
      },
      'inst-401': { status: 401 },
      'inst-400': { status: 400 },
      'inst-503': { status: 503 },
    });
    capability = createServicesCapability(createAlgaApiTenantData({ baseUrl: alga.baseUrl, runnerAuthToken: RUNNER_TOKEN }));
  });
  after(async () => alga?.close());

  test('list: filters go to Alga in camelCase; rows come back in jco’s shape; malformed rows skipped and logged', async () => {
    const services = recordingServices();
    const result = okValue(await call(capability, 'listServices', [{}], executionContext(), services)) as { items: ServiceSummary[]; totalCount: number };
    assert.deepEqual(result.items, [
      {
        serviceId: 's-2',
        serviceName: 'FortiGate 60F',
        itemKind: 'product',
        billingMethod: 'fixed',
        serviceTypeId: undefined,
        serviceTypeName: undefined,
        defaultRate: 895.5,
        unitOfMeasure: 'each',
        isActive: true,
        sku: 'HW-FG60F',
      },
      {
        serviceId: 's-1',
        serviceName: 'Managed Workstation',
        itemKind: 'service',
        billingMethod: 'fixed',
        serviceTypeId: 'st-1',
        serviceTypeName: 'Managed Services',
        defaultRate: 45,
        unitOfMeasure: 'device/month',
        isActive: true,
        sku: 'MSP-WKS',
      },
    ]);
    assert.equal(result.totalCount, 4);
    const warnings = services.logs.filter((l) => l.level === 'warn').map((l) => l.message);
    assert.equal(warnings.length, 2);
    assert.ok(warnings.some((m) => m.includes('billingMethod')));
    assert.ok(warnings.some((m) => m.includes('defaultRate')));

    await call(capability, 'listServices', [{ search: 'hw', itemKind: 'product', isActive: true, billingMethod: 'fixed', page: 2, pageSize: 10 }], executionContext({ user: null }), services);
    assert.deepEqual(alga.requests.at(-1)?.body, {
      operation: 'list',
      input: { search: 'hw', itemKind: 'product', isActive: true, billingMethod: 'fixed', page: 2, pageSize: 10 },
    });
    assert.equal(alga.requests.at(-1)?.path, '/api/internal/ext-services/install/inst-1');
  });

  test('get: found, and unknown id → option none', async () => {
    const services = recordingServices();
    const found = okValue(await call(capability, 'getService', ['s-1'], executionContext(), services)) as ServiceSummary;
    assert.equal(found.sku, 'MSP-WKS');
    const sent = alga.requests.at(-1)?.body;
    assert.equal(sent?.['serviceId'], 's-1');
    assert.deepEqual(sent?.['input'], { serviceId: 's-1' });
    assert.deepEqual(await call(capability, 'getService', ['s-404'], executionContext(), services), { kind: 'ok', value: undefined });
  });

  for (const [installId, code] of [
    ['inst-401', 'not-allowed'],
    ['inst-400', 'invalid-input'],
    ['inst-503', 'internal'],
  ] as const) {
    test(`${installId} → ${code}`, async () => {
      const services = recordingServices();
      assert.deepEqual(await call(capability, 'getService', ['s-1'], executionContext({ installId }), services), err(code));
      assert.match(services.logs[0]?.message ?? '', new RegExp(`services.get-service failed \\(${code}\\)`));
    });
  }

  test('invalid filters are refused locally without a request', async () => {
    const before = alga.requests.length;
    for (const input of [{ itemKind: 'bundle' }, { billingMethod: 'per-unit' }, { isActive: 1 }, { pageSize: 0 }]) {
      assert.deepEqual(await call(capability, 'listServices', [input], executionContext(), recordingServices()), err('invalid-input'));
    }
    assert.equal(alga.requests.length, before);
  });
});

describe('services capability over the embedded store (SQLite, demo data)', () => {
  let dir: string;
  let store: Store;
  let capability: Capability<null, null>;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'services-cap-'));
    store = await openStore({ dataDir: dir });
    const data = createStoreTenantData(store.db);
    await seedDemoTenantData(data, 'tenant-a');
    capability = createServicesCapability(data);
  });
  after(async () => {
    await store?.close();
    await rm(dir, { recursive: true, force: true });
  });

  test('the demo catalogue has both item kinds and every billing method, and filters narrow it', async () => {
    const list = async (input: object) => okValue(await call(capability, 'listServices', [input], executionContext(), recordingServices())) as { items: ServiceSummary[]; totalCount: number };
    const all = await list({ pageSize: 100 });
    assert.equal(all.totalCount, DEMO_SERVICES.length);
    assert.deepEqual(new Set(all.items.map((s) => s.itemKind)), new Set(['service', 'product']));
    assert.deepEqual(new Set(all.items.map((s) => s.billingMethod)), new Set(['fixed', 'hourly', 'usage']));
    const names = all.items.map((s) => s.serviceName.toLowerCase());
    assert.deepEqual(names, [...names].sort());

    const products = await list({ itemKind: 'product', isActive: true });
    assert.deepEqual(
      products.items.map((s) => s.serviceName),
      ['Dell Latitude 5450 Laptop', 'FortiGate 60F Firewall', 'Microsoft 365 Business Premium'],
    );
    const hourly = await list({ billingMethod: 'hourly' });
    assert.deepEqual(
      hourly.items.map((s) => s.sku ?? null),
      ['PS-AFTER', null, null],
    );
    const bySku = await list({ search: 'lic-' });
    assert.deepEqual(
      bySku.items.map((s) => s.serviceName),
      ['Legacy Antivirus Subscription', 'Microsoft 365 Business Premium'],
    );
  });

  test('through the registry: denied without cap:service.read, served with it', async () => {
    const registry = new CapabilityRegistry().register(capability);
    const scope = (granted: boolean): ExecutionView => ({
      ctx: executionContext(),
      install: { installId: 'inst-1', tenantId: 'tenant-a', extensionId: 'ext-1', versionId: null, config: {}, egressAllow: [], uiProxy: null },
      grants: new Set(granted ? ['cap:service.read' as const] : []),
      services: recordingServices(),
      states: new Map(),
    });
    const id = DEMO_SERVICES[0]?.serviceId;
    assert.deepEqual(await registry.invoke(scope(false), 'alga:extension/services', 'listServices', [{}]), err('not-allowed'));
    assert.deepEqual(await registry.invoke(scope(false), 'alga:extension/services', 'getService', [id]), err('not-allowed'));
    assert.deepEqual(await registry.invoke(scope(true), 'alga:extension/services', 'getService', [id]), { kind: 'ok', value: DEMO_SERVICES[0] });
  });
});
