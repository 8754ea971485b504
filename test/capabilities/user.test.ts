// cap:user.read — alga:extension/user and user-v2 from the execution's user.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { userCapability } from '../../src/capabilities/user.js';
import { err } from '../../src/capabilities/capability.js';
import { CapabilityRegistry } from '../../src/capabilities/registry.js';
import type { ExecutionContext, ExecutionView, ExecutionUser } from '../../src/contract/index.js';
import { executionContext, recordingServices } from './tenant-data-fixtures.js';

const USER: ExecutionUser = {
  userId: 'u-42',
  userEmail: 'dana@msp.example',
  userName: 'Dana Scully',
  userType: 'client',
  clientName: 'Acme Dental Group',
  clientId: 'c-acme',
  // Insertion order is not key order: the guest must get them sorted.
  additionalFields: { zone: 'eu-west', Department: 'Billing', role: 'technician', 'a-b': '1', a: '0', é: 'accent' },
};

const registry = new CapabilityRegistry().register(userCapability);

function scope(ctx: ExecutionContext, granted = true): ExecutionView {
  return {
    ctx,
    install: { installId: 'inst-1', tenantId: ctx.tenantId, extensionId: 'ext-1', versionId: null, config: {}, egressAllow: [], uiProxy: null },
    grants: new Set(granted ? ['cap:user.read' as const] : []),
    services: recordingServices(),
    states: new Map(),
  };
}

test('user.get-user returns the v1 record, tenant from the execution', async () => {
  const r = await registry.invoke(scope(executionContext({ tenantId: 'tenant-x', user: USER })), 'alga:extension/user', 'getUser', []);
  assert.deepEqual(r, {
    kind: 'ok',
    value: { tenantId: 'tenant-x', clientName: 'Acme Dental Group', userId: 'u-42', userEmail: 'dana@msp.example', userName: 'Dana Scully', userType: 'client' },
  });
});

test('user-v2.get-user adds client id and the additional fields as pairs sorted by key', async () => {
  const r = await registry.invoke(scope(executionContext({ tenantId: 'tenant-x', user: USER })), 'alga:extension/user-v2', 'getUser', []);
  assert.deepEqual(r, {
    kind: 'ok',
    value: {
      tenantId: 'tenant-x',
      clientName: 'Acme Dental Group',
      userId: 'u-42',
      userEmail: 'dana@msp.example',
      userName: 'Dana Scully',
      userType: 'client',
      clientId: 'c-acme',
      additionalFields: [
        ['Department', 'Billing'],
        ['a', '0'],
        ['a-b', '1'],
        ['role', 'technician'],
        ['zone', 'eu-west'],
        ['é', 'accent'],
      ],
    },
  });
});

test('user-v2 without a client id or extra fields: client-id none, empty list', async () => {
  const bare: ExecutionUser = { ...USER, clientId: null, additionalFields: {} };
  const r = await registry.invoke(scope(executionContext({ user: bare })), 'alga:extension/user-v2', 'getUser', []);
  assert.equal(r.kind, 'ok');
  const value = (r as { value: Record<string, unknown> }).value;
  assert.equal(value['clientId'], undefined);
  assert.ok('clientId' in value);
  assert.deepEqual(value['additionalFields'], []);
});

test('no user (a scheduled run) → not-available on both interfaces', async () => {
  for (const iface of ['alga:extension/user', 'alga:extension/user-v2']) {
    assert.deepEqual(await registry.invoke(scope(executionContext({ user: null })), iface, 'getUser', []), err('not-available'));
  }
});

test('granted by default; when a grant set leaves it out the call is not-allowed', async () => {
  assert.equal(userCapability.grantedByDefault, true);
  assert.equal(userCapability.name, 'cap:user.read');
  for (const iface of ['alga:extension/user', 'alga:extension/user-v2']) {
    assert.deepEqual(await registry.invoke(scope(executionContext({ user: USER }), false), iface, 'getUser', []), err('not-allowed'));
  }
});
