// The embedded tenant-data backend, one table-driven suite run on SQLite and on PostgreSQL:
// search, filters, case- and accent-insensitive sort (the same order on both), paging,
// validation, tenant isolation, replace, demo seeding and the migration's down/up.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { sql, type Kysely } from 'kysely';
import { createStoreTenantData, type StoreTenantData } from '../../src/store/tenant-data.js';
import type { ClientSummary, ClientsListInput, ServiceSummary, ServicesListInput, TenantDataScope } from '../../src/store/tenant-data-model.js';
import { DEMO_CLIENTS, DEMO_SERVICES, seedDemoTenantData } from '../../src/capabilities/demo-data.js';
import { down, up } from '../../src/store/migrations/050_tenant_data.js';
import { client, storeLegs, type TestStore } from './tenant-data-stores.js';

const scope = (tenantId: string): TenantDataScope => ({ tenantId, installId: null, user: null, log: () => undefined });

function service(serviceId: string, serviceName: string, s: Pick<ServiceSummary, 'itemKind' | 'billingMethod'> & Partial<ServiceSummary>): ServiceSummary {
  return {
    serviceId,
    serviceName,
    serviceTypeId: undefined,
    serviceTypeName: undefined,
    defaultRate: 10,
    unitOfMeasure: 'each',
    isActive: true,
    sku: undefined,
    ...s,
  };
}

// Names chosen so a locale collation, ASCII-only lower() or LIKE wildcards would each give a
// different answer than the contract's.
const T1_CLIENTS: ClientSummary[] = [
  client('c01', 'Zulu Systems', { billingEmail: 'ap@zulu.example' }),
  client('c02', 'alpha Dental', {
    billingEmail: 'billing@alpha.example',
    clientType: 'individual',
    defaultCurrencyCode: 'EUR',
    accountManagerId: 'u-7',
    accountManagerName: 'Sarah Chen',
  }),
  client('c03', 'Alpha Dental', { clientType: undefined, defaultCurrencyCode: undefined }),
  client('c04', 'École Saint-Jean', { billingEmail: 'compta@ecole.example' }),
  client('c05', 'Echo Networks'),
  client('c06', 'ÉMILE & Co'),
  client('c07', 'bravo_100% Ltd', { billingEmail: 'accounts@BRAVO.example' }),
  client('c08', 'Bravo 100 Ltd'),
  client('c09', 'Delta Clinic', { isInactive: true, billingEmail: 'x@delta.example' }),
  client('c10', 'charlie Corp', { isInactive: true }),
  client('c11', 'Østfold Consulting'),
  client('c12', 'ångström labs'),
  client('c13', 'Zeta'),
];
const ACTIVE_ORDER = ['c02', 'c03', 'c12', 'c08', 'c07', 'c05', 'c04', 'c06', 'c13', 'c01', 'c11'];
const ALL_ORDER = ['c02', 'c03', 'c12', 'c08', 'c07', 'c10', 'c09', 'c05', 'c04', 'c06', 'c13', 'c01', 'c11'];

const T1_SERVICES: ServiceSummary[] = [
  service('s1', 'Managed Workstation', { itemKind: 'service', billingMethod: 'fixed', sku: 'MSP-WKS', defaultRate: 45 }),
  service('s2', 'remote Support', { itemKind: 'service', billingMethod: 'hourly', defaultRate: 125, unitOfMeasure: 'hour' }),
  service('s3', 'Backup GB', { itemKind: 'service', billingMethod: 'usage', sku: 'BDR-GB', defaultRate: 0.12, unitOfMeasure: 'GB/month' }),
  service('s4', 'Firewall Appliance', { itemKind: 'product', billingMethod: 'fixed', sku: 'HW-FW', serviceTypeId: 'st-hw', serviceTypeName: 'Hardware' }),
  service('s5', 'Antivirus (legacy)', { itemKind: 'product', billingMethod: 'usage', sku: 'LIC-AV', isActive: false }),
  service('s6', 'éclair License', { itemKind: 'product', billingMethod: 'usage', sku: 'lic-ecl' }),
];
const SERVICE_ORDER = ['s5', 's3', 's6', 's4', 's1', 's2'];

const T2_CLIENTS = [client('c02', 'Other Tenant Co'), client('c50', 'Aardvark Only In T2')];
const T2_SERVICES = [service('s1', 'Other Tenant Service', { itemKind: 'product', billingMethod: 'hourly' })];

const legs = await storeLegs();

for (const leg of legs) {
  describe(`tenant data store on ${leg.name}`, { skip: leg.skip ?? false }, () => {
    let opened: TestStore;
    let data: StoreTenantData;

    before(async () => {
      opened = await leg.open();
      data = createStoreTenantData(opened.store.db);
      await data.replaceClients('t1', T1_CLIENTS);
      await data.replaceServices('t1', T1_SERVICES);
      await data.replaceClients('t2', T2_CLIENTS);
      await data.replaceServices('t2', T2_SERVICES);
    });
    after(async () => opened?.dispose());

    async function clientIds(input: ClientsListInput, tenant = 't1') {
      const r = await data.listClients(scope(tenant), input);
      assert.ok(r.ok, `list failed: ${r.ok ? '' : r.message}`);
      return { ids: r.value.items.map((c) => c.clientId), total: r.value.totalCount, page: r.value.page, pageSize: r.value.pageSize };
    }

    async function serviceIds(input: ServicesListInput, tenant = 't1') {
      const r = await data.listServices(scope(tenant), input);
      assert.ok(r.ok, `list failed: ${r.ok ? '' : r.message}`);
      return { ids: r.value.items.map((s) => s.serviceId), total: r.value.totalCount };
    }

    test('the migration was applied by openStore', () => {
      assert.ok(opened.store.appliedMigrations.includes('050_tenant_data'));
    });

    if (leg.name === 'postgres') {
      // The test database may well be C.UTF-8 already; the columns must not depend on that.
      test('sort and id columns use the bytewise "C" collation whatever the database default', async () => {
        const r = await sql<{ table_name: string; column_name: string; collation_name: string | null }>`
          select table_name, column_name, collation_name from information_schema.columns
          where table_schema = current_schema() and table_name in ('tenant_clients', 'tenant_services') and column_name in ('name_key', 'client_id', 'service_id')
          order by table_name, column_name`.execute(opened.store.db);
        assert.deepEqual(
          r.rows.map((c) => `${c.table_name}.${c.column_name}=${c.collation_name}`),
          ['tenant_clients.client_id=C', 'tenant_clients.name_key=C', 'tenant_services.name_key=C', 'tenant_services.service_id=C'],
        );
      });
    }

    test('default list: active clients only, sorted by name ignoring case and accents, defaults page 1 / 25', async () => {
      assert.deepEqual(await clientIds({}), { ids: ACTIVE_ORDER, total: 11, page: 1, pageSize: 25 });
    });

    test('include-inactive adds the inactive clients in their sorted places', async () => {
      assert.deepEqual((await clientIds({ includeInactive: true })).ids, ALL_ORDER);
      assert.deepEqual((await clientIds({ includeInactive: false })).ids, ACTIVE_ORDER);
    });

    test('a client reads back with every field, absent optionals undefined', async () => {
      const r = await data.getClient(scope('t1'), 'c02');
      assert.deepEqual(r, { ok: true, value: T1_CLIENTS[1] });
      const bare = await data.getClient(scope('t1'), 'c03');
      assert.deepEqual(bare, { ok: true, value: T1_CLIENTS[2] });
      assert.ok(bare.ok && bare.value && !('x' in bare.value) && bare.value.clientType === undefined);
    });

    const searches: Array<{ search: string; includeInactive?: boolean; expect: string[] }> = [
      { search: 'ALPHA', expect: ['c02', 'c03'] },
      { search: 'ecole', expect: ['c04'] },
      { search: 'ÉCOLE', expect: ['c04'] },
      { search: 'compta@', expect: ['c04'] },
      { search: '@bravo.EXAMPLE', expect: ['c07'] },
      { search: '_100', expect: ['c07'] },
      { search: '100%', expect: ['c07'] },
      { search: '100', expect: ['c08', 'c07'] },
      { search: '  zulu  ', expect: ['c01'] },
      { search: 'ø', expect: ['c11'] },
      { search: 'angstrom', expect: ['c12'] },
      { search: 'delta', expect: [] },
      { search: 'delta', includeInactive: true, expect: ['c09'] },
      { search: '   ', expect: ACTIVE_ORDER },
      { search: 'no such client', expect: [] },
    ];
    for (const s of searches) {
      test(`client search ${JSON.stringify(s.search)}${s.includeInactive ? ' incl. inactive' : ''}`, async () => {
        const r = await clientIds({ search: s.search, includeInactive: s.includeInactive });
        assert.deepEqual(r.ids, s.expect);
        assert.equal(r.total, s.expect.length);
      });
    }

    test('paging walks the whole ordered list; the last page is partial; past the end is empty', async () => {
      const pages = [];
      for (let page = 1; page <= 4; page++) pages.push(await clientIds({ page, pageSize: 4 }));
      assert.deepEqual(
        pages.map((p) => p.ids.length),
        [4, 4, 3, 0],
      );
      assert.deepEqual(
        pages.flatMap((p) => p.ids),
        ACTIVE_ORDER,
      );
      for (const p of pages) assert.equal(p.total, 11);
      assert.deepEqual(pages[3], { ids: [], total: 11, page: 4, pageSize: 4 });
      assert.deepEqual(await clientIds({ page: 0xffff_ffff, pageSize: 100 }), { ids: [], total: 11, page: 0xffff_ffff, pageSize: 100 });
      assert.deepEqual((await clientIds({ pageSize: 1 })).ids, ['c02']);
      assert.equal((await clientIds({ pageSize: 100, includeInactive: true })).ids.length, 13);
    });

    const invalidInputs: Array<[string, unknown]> = [
      ['page 0', { page: 0 }],
      ['negative page', { page: -1 }],
      ['fractional page', { page: 1.5 }],
      ['page past u32', { page: 2 ** 32 }],
      ['page-size 0', { pageSize: 0 }],
      ['page-size 101', { pageSize: 101 }],
      ['search of 201 chars', { search: 'x'.repeat(201) }],
      ['include-inactive not a bool', { includeInactive: 'yes' }],
      ['page as a string', { page: '1' }],
    ];
    for (const [name, input] of invalidInputs) {
      test(`list clients refuses ${name} as invalid-input`, async () => {
        const r = await data.listClients(scope('t1'), input as ClientsListInput);
        assert.equal(r.ok, false);
        assert.equal(!r.ok && r.error, 'invalid-input');
      });
      test(`list services refuses ${name} as invalid-input`, async () => {
        const r = await data.listServices(scope('t1'), (name.startsWith('include') ? { isActive: 'yes' } : input) as ServicesListInput);
        assert.equal(!r.ok && r.error, 'invalid-input');
      });
    }

    test('list services refuses an unknown item kind or billing method', async () => {
      for (const input of [{ itemKind: 'bundle' }, { billingMethod: 'per-unit' }]) {
        const r = await data.listServices(scope('t1'), input as unknown as ServicesListInput);
        assert.equal(!r.ok && r.error, 'invalid-input');
      }
    });

    test('get with a non-string id is invalid-input', async () => {
      const r = await data.getClient(scope('t1'), 42 as unknown as string);
      assert.equal(!r.ok && r.error, 'invalid-input');
    });

    test('tenant isolation: lists and gets see only the scope tenant', async () => {
      assert.deepEqual(await clientIds({ includeInactive: true }, 't2'), { ids: ['c50', 'c02'], total: 2, page: 1, pageSize: 25 });
      assert.ok(!(await clientIds({ includeInactive: true })).ids.includes('c50'));
      const t2 = await data.getClient(scope('t2'), 'c02');
      assert.equal(t2.ok && t2.value?.clientName, 'Other Tenant Co');
      const t1 = await data.getClient(scope('t1'), 'c02');
      assert.equal(t1.ok && t1.value?.clientName, 'alpha Dental');
      assert.deepEqual(await data.getClient(scope('t1'), 'c50'), { ok: true, value: undefined });
      assert.deepEqual(await data.getClient(scope('t3'), 'c02'), { ok: true, value: undefined });
      assert.deepEqual(await clientIds({}, 't3'), { ids: [], total: 0, page: 1, pageSize: 25 });
      const s = await data.getService(scope('t2'), 's1');
      assert.equal(s.ok && s.value?.serviceName, 'Other Tenant Service');
      assert.deepEqual(await serviceIds({}, 't2'), { ids: ['s1'], total: 1 });
      assert.deepEqual(await data.getService(scope('t3'), 's1'), { ok: true, value: undefined });
    });

    test('services: all of them sorted by folded name, every field read back', async () => {
      assert.deepEqual(await serviceIds({}), { ids: SERVICE_ORDER, total: 6 });
      for (const s of T1_SERVICES) assert.deepEqual(await data.getService(scope('t1'), s.serviceId), { ok: true, value: s });
      assert.deepEqual(await data.getService(scope('t1'), 'nope'), { ok: true, value: undefined });
    });

    const serviceFilters: Array<[string, ServicesListInput, string[]]> = [
      ['item-kind product', { itemKind: 'product' }, ['s5', 's6', 's4']],
      ['item-kind service', { itemKind: 'service' }, ['s3', 's1', 's2']],
      ['is-active true', { isActive: true }, ['s3', 's6', 's4', 's1', 's2']],
      ['is-active false', { isActive: false }, ['s5']],
      ['billing-method usage', { billingMethod: 'usage' }, ['s5', 's3', 's6']],
      ['billing-method hourly', { billingMethod: 'hourly' }, ['s2']],
      ['product + usage + active', { itemKind: 'product', billingMethod: 'usage', isActive: true }, ['s6']],
      ['search matches name or sku', { search: 'LIC' }, ['s5', 's6']],
      ['search sku only', { search: 'hw-' }, ['s4']],
      ['search accent-insensitive', { search: 'ECLAIR' }, ['s6']],
      ['search + filter', { search: 'lic', isActive: true }, ['s6']],
      ['paging', { pageSize: 4, page: 2 }, ['s1', 's2']],
    ];
    for (const [name, input, expected] of serviceFilters) {
      test(`services filter: ${name}`, async () => {
        const r = await serviceIds(input);
        assert.deepEqual(r.ids, expected);
        assert.equal(r.total, name === 'paging' ? 6 : expected.length);
      });
    }

    test('replace swaps a tenant’s whole set atomically and leaves other tenants alone', async () => {
      await data.replaceClients('t4', [client('a', 'First'), client('b', 'Second')]);
      await data.replaceClients('t4', [client('c', 'Third')]);
      assert.deepEqual((await clientIds({ includeInactive: true }, 't4')).ids, ['c']);
      await data.replaceClients('t4', []);
      assert.deepEqual(await data.countTenantData('t4'), { clients: 0, services: 0 });
      // A replace that fails half-way (duplicate id → primary key) leaves the old set in place.
      await data.replaceServices('t4', [service('x', 'Kept', { itemKind: 'service', billingMethod: 'fixed' })]);
      await assert.rejects(data.replaceServices('t4', [service('y', 'New', { itemKind: 'service', billingMethod: 'fixed' }), service('y', 'Dup', { itemKind: 'service', billingMethod: 'fixed' })]));
      assert.deepEqual((await serviceIds({}, 't4')).ids, ['x']);
      assert.deepEqual(await data.countTenantData('t1'), { clients: 13, services: 6 });
    });

    test('concurrent replaces of one tenant all succeed and leave exactly one of the sets', async () => {
      const sets = Array.from({ length: 8 }, (_, i) => [client(`k${i}-a`, `Set ${i} A`), client(`shared`, `Set ${i} shared`), client(`k${i}-b`, `Set ${i} B`)]);
      await Promise.all(sets.map((set) => data.replaceClients('t5', set)));
      const ids = (await clientIds({}, 't5')).ids;
      assert.equal(ids.length, 3);
      const winner = sets.find((set) => set.some((c) => c.clientId === ids[0]));
      assert.ok(winner, `rows ${ids.join(',')} come from no single set`);
      assert.deepEqual([...ids].sort(), winner.map((c) => c.clientId).sort());
    });

    test('demo seeding fills an empty tenant once and never overwrites data', async () => {
      assert.deepEqual(await seedDemoTenantData(data, 'demo-t'), { clients: true, services: true });
      const clients = await data.listClients(scope('demo-t'), { pageSize: 100 });
      const all = await data.listClients(scope('demo-t'), { pageSize: 100, includeInactive: true });
      assert.ok(clients.ok && all.ok);
      assert.equal(all.value.totalCount, DEMO_CLIENTS.length);
      assert.equal(clients.value.totalCount, DEMO_CLIENTS.length - 2);
      assert.equal((await serviceIds({ pageSize: 100 }, 'demo-t')).total, DEMO_SERVICES.length);
      assert.deepEqual(await seedDemoTenantData(data, 'demo-t'), { clients: false, services: false });
      await data.replaceClients('demo-t2', [client('mine', 'Operator Data')]);
      assert.deepEqual(await seedDemoTenantData(data, 'demo-t2'), { clients: false, services: true });
      assert.deepEqual((await clientIds({}, 'demo-t2')).ids, ['mine']);
    });
  });

  describe(`tenant data migration on ${leg.name}`, { skip: leg.skip ?? false }, () => {
    test('down drops both tables and up recreates them', async () => {
      const opened = await leg.open();
      try {
        const db = opened.store.db as Kysely<unknown>;
        await down(db);
        await assert.rejects(sql`select count(*) from tenant_clients`.execute(db));
        await assert.rejects(sql`select count(*) from tenant_services`.execute(db));
        await up(db);
        const data = createStoreTenantData(db);
        await data.replaceClients('t', [client('a', 'A')]);
        assert.deepEqual(await data.countTenantData('t'), { clients: 1, services: 0 });
      } finally {
        await opened.dispose();
      }
    });
  });
}
