// The admin API's snake_case item schemas for PUT /admin/v1/tenants/{tenant}/clients|services.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { replaceClientsBodySchema, replaceServicesBodySchema } from '../../src/store/tenant-data-items.js';

test('a client item parses into the guest-facing model; null and absent optionals become undefined', () => {
  const body = replaceClientsBodySchema.parse({
    items: [
      {
        client_id: 'c1',
        client_name: 'Acme Dental Group',
        client_type: 'company',
        is_inactive: true,
        default_currency_code: 'USD',
        account_manager_id: null,
        account_manager_name: 'Sarah Chen',
        billing_email: 'accounts@acme.example',
      },
      { client_id: 'c2', client_name: 'Jordan Miller' },
    ],
  });
  assert.deepEqual(body.items, [
    {
      clientId: 'c1',
      clientName: 'Acme Dental Group',
      clientType: 'company',
      isInactive: true,
      defaultCurrencyCode: 'USD',
      accountManagerId: undefined,
      accountManagerName: 'Sarah Chen',
      billingEmail: 'accounts@acme.example',
    },
    {
      clientId: 'c2',
      clientName: 'Jordan Miller',
      clientType: undefined,
      isInactive: false,
      defaultCurrencyCode: undefined,
      accountManagerId: undefined,
      accountManagerName: undefined,
      billingEmail: undefined,
    },
  ]);
});

test('a service item parses, is_active defaults to true', () => {
  const body = replaceServicesBodySchema.parse({
    items: [{ service_id: 's1', service_name: 'Remote Support', item_kind: 'service', billing_method: 'hourly', default_rate: 125.5, unit_of_measure: 'hour', sku: null }],
  });
  assert.deepEqual(body.items, [
    {
      serviceId: 's1',
      serviceName: 'Remote Support',
      itemKind: 'service',
      billingMethod: 'hourly',
      serviceTypeId: undefined,
      serviceTypeName: undefined,
      defaultRate: 125.5,
      unitOfMeasure: 'hour',
      isActive: true,
      sku: undefined,
    },
  ]);
});

const badClients: Array<[string, unknown, string]> = [
  ['a camelCase key (unknown column)', { items: [{ client_id: 'c1', client_name: 'A', isInactive: true }] }, 'isInactive'],
  [
    'a duplicate id',
    {
      items: [
        { client_id: 'c1', client_name: 'A' },
        { client_id: 'c1', client_name: 'B' },
      ],
    },
    'duplicate client_id "c1"',
  ],
  ['an empty name', { items: [{ client_id: 'c1', client_name: '' }] }, 'client_name'],
  ['is_inactive as a string', { items: [{ client_id: 'c1', client_name: 'A', is_inactive: 'true' }] }, 'is_inactive'],
  ['no items', {}, 'items'],
];
for (const [name, body, mentions] of badClients) {
  test(`clients body with ${name} is refused, naming the problem`, () => {
    const r = replaceClientsBodySchema.safeParse(body);
    assert.equal(r.success, false);
    const described = (r.error?.issues ?? []).map((i) => `${i.path.join('.')}: ${i.message}`).join('\n');
    assert.ok(described.includes(mentions), described);
  });
}

const badServices: Array<[string, unknown]> = [
  ['an unknown item kind', { items: [{ service_id: 's', service_name: 'S', item_kind: 'bundle', billing_method: 'fixed', default_rate: 1, unit_of_measure: 'x' }] }],
  ['an unknown billing method', { items: [{ service_id: 's', service_name: 'S', item_kind: 'service', billing_method: 'per_unit', default_rate: 1, unit_of_measure: 'x' }] }],
  ['a non-finite rate', { items: [{ service_id: 's', service_name: 'S', item_kind: 'service', billing_method: 'fixed', default_rate: Infinity, unit_of_measure: 'x' }] }],
  ['no rate', { items: [{ service_id: 's', service_name: 'S', item_kind: 'service', billing_method: 'fixed', unit_of_measure: 'x' }] }],
  [
    'a duplicate id',
    {
      items: [
        { service_id: 's', service_name: 'S', item_kind: 'service', billing_method: 'fixed', default_rate: 1, unit_of_measure: 'x' },
        { service_id: 's', service_name: 'T', item_kind: 'product', billing_method: 'fixed', default_rate: 1, unit_of_measure: 'x' },
      ],
    },
  ],
];
for (const [name, body] of badServices) {
  test(`services body with ${name} is refused`, () => {
    assert.equal(replaceServicesBodySchema.safeParse(body).success, false);
  });
}
