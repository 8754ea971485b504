/**
 * The grant table (src/capabilities/grants.ts): effective grants = install ∩ manifest, plus the defaults,
 * narrowed by a caller's providers; and for every function of every interface, what a call
 * without its grant answers — through the real registry, with every capability registered.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { WORLD_IMPORTS } from '../../src/generated/wit/seed.js';
import { WORLD_IMPORTS as ALGA_WORLD_IMPORTS } from '../../src/generated/wit/alga.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { effectiveGrants, DEFAULT_GRANTS } from '../../src/capabilities/grants.js';
import { createCapabilityRegistry } from '../../src/capabilities/index.js';
import type { CapabilityRegistry } from '../../src/capabilities/registry.js';
import type { ExecutionView } from '../../src/contract/index.js';
import type { CapabilityName, ExecutionServices } from '../../src/capabilities/capability.js';
import { openStore, type Store } from '../../src/store/index.js';
import { createStoreTenantData } from '../../src/store/tenant-data.js';

test('effective grants: install ∩ manifest, plus defaults', () => {
  const g = effectiveGrants({ install: ['cap:storage.kv', 'cap:http.fetch'], manifest: ['cap:storage.kv', 'cap:secrets.get'] });
  assert.deepEqual([...g].sort(), [...DEFAULT_GRANTS, 'cap:storage.kv'].sort());
});

test('providers only narrow: naming a capability the install lacks grants nothing; defaults can be taken away', () => {
  const g = effectiveGrants({ install: ['cap:storage.kv'], manifest: ['cap:storage.kv', 'cap:http.fetch'], providers: ['cap:storage.kv', 'cap:http.fetch', 'cap:log.emit'] });
  assert.deepEqual([...g].sort(), ['cap:log.emit', 'cap:storage.kv']);
  assert.deepEqual([...effectiveGrants({ install: ['cap:storage.kv'], manifest: ['cap:storage.kv'], providers: [] })], []);
});

test('a manifest capability the install does not grant is not granted', () => {
  assert.ok(!effectiveGrants({ install: [], manifest: ['cap:storage.kv'] }).has('cap:storage.kv'));
});

/** interface#function → [its capability, what a call without the grant answers] */
const DENIED_TABLE: [string, string, CapabilityName, unknown][] = [
  ['alga:extension/context', 'getContext', 'cap:context.read', { kind: 'value', value: { tenantId: 't', extensionId: 'e' } }],
  ['alga:extension/secrets', 'get', 'cap:secrets.get', { kind: 'err', code: 'denied' }],
  ['alga:extension/secrets', 'list', 'cap:secrets.get', { kind: 'value', value: [] }],
  ['alga:extension/secrets', 'listKeys', 'cap:secrets.get', { kind: 'value', value: [] }],
  ['alga:extension/http', 'fetch', 'cap:http.fetch', { kind: 'err', code: 'not-allowed' }],
  ['alga:extension/storage', 'get', 'cap:storage.kv', { kind: 'err', code: 'denied' }],
  ['alga:extension/storage', 'put', 'cap:storage.kv', { kind: 'err', code: 'denied' }],
  ['alga:extension/storage', 'delete', 'cap:storage.kv', { kind: 'err', code: 'denied' }],
  ['alga:extension/storage', 'list', 'cap:storage.kv', { kind: 'err', code: 'denied' }],
  ['alga:extension/storage', 'listEntries', 'cap:storage.kv', { kind: 'err', code: 'denied' }],
  ['alga:extension/logging', 'info', 'cap:log.emit', { kind: 'dropped' }],
  ['alga:extension/logging', 'warn', 'cap:log.emit', { kind: 'dropped' }],
  ['alga:extension/logging', 'error', 'cap:log.emit', { kind: 'dropped' }],
  ['alga:extension/logging', 'logInfo', 'cap:log.emit', { kind: 'dropped' }],
  ['alga:extension/ui-proxy', 'call', 'cap:ui.proxy', { kind: 'err', code: 'denied' }],
  ['alga:extension/ui-proxy', 'callRoute', 'cap:ui.proxy', { kind: 'err', code: 'denied' }],
  ['alga:extension/user', 'getUser', 'cap:user.read', { kind: 'err', code: 'not-allowed' }],
  ['alga:extension/user-v2', 'getUser', 'cap:user.read', { kind: 'err', code: 'not-allowed' }],
  ['alga:extension/clients', 'listClients', 'cap:client.read', { kind: 'err', code: 'not-allowed' }],
  ['alga:extension/clients', 'getClient', 'cap:client.read', { kind: 'err', code: 'not-allowed' }],
  ['alga:extension/services', 'listServices', 'cap:service.read', { kind: 'err', code: 'not-allowed' }],
  ['alga:extension/services', 'getService', 'cap:service.read', { kind: 'err', code: 'not-allowed' }],
  // Alga's dialect only: its runner's denied answers
  ['alga:extension/scheduler', 'listSchedules', 'cap:scheduler.manage', { kind: 'err', code: 'denied' }],
  ['alga:extension/scheduler', 'getSchedule', 'cap:scheduler.manage', { kind: 'err', code: 'denied' }],
  ['alga:extension/scheduler', 'getEndpoints', 'cap:scheduler.manage', { kind: 'err', code: 'denied' }],
  ['alga:extension/scheduler', 'createSchedule', 'cap:scheduler.manage', { kind: 'value', value: { success: false, error: 'Permission denied: cap:scheduler.manage not granted' } }],
  ['alga:extension/scheduler', 'updateSchedule', 'cap:scheduler.manage', { kind: 'value', value: { success: false, error: 'Permission denied: cap:scheduler.manage not granted' } }],
  ['alga:extension/scheduler', 'deleteSchedule', 'cap:scheduler.manage', { kind: 'value', value: { success: false, error: 'Permission denied: cap:scheduler.manage not granted' } }],
  ['alga:extension/invoicing', 'createManualInvoice', 'cap:invoice.manual.create', { kind: 'value', value: { success: false, error: 'Permission denied: cap:invoice.manual.create not granted' } }],
];

let dir: string;
let store: Store;
let registry: CapabilityRegistry;
const observed: string[] = [];

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'grants-'));
  store = await openStore({ dataDir: dir });
  registry = createCapabilityRegistry({
    store,
    tenantData: createStoreTenantData(store.db),
    http: { allowPrivate: false },
    observer: { onCall: (cap, fn, outcome) => observed.push(`${cap} ${fn} ${outcome}`) },
  });
});
after(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

function scope(grants: CapabilityName[]): ExecutionView & { denied: string[] } {
  const denied: string[] = [];
  const services: ExecutionServices = { log: () => {}, noteDenied: (cap, fn) => denied.push(`${cap} ${fn}`), signal: new AbortController().signal };
  return {
    denied,
    ctx: { requestId: 'r', tenantId: 't', extensionId: 'e', installId: 'i', versionId: 'v', contentHash: 'sha256:x', user: null, config: {} },
    install: { installId: 'i', tenantId: 't', extensionId: 'e', versionId: 'v', config: {}, egressAllow: [], uiProxy: null },
    grants: new Set(grants),
    services,
    states: new Map(),
  };
}

test('every interface function without its grant answers its own denial, is counted and observed', async () => {
  for (const [iface, fn, cap, expected] of DENIED_TABLE) {
    const s = scope([]);
    const args = fn === 'put' ? [{ namespace: 'n', key: 'k', value: new Uint8Array() }] : fn === 'fetch' ? [{ method: 'GET', url: 'https://example.com', headers: [] }] : ['x', 'y'];
    const result = await registry.invoke(s, iface, fn, args);
    assert.deepEqual(result, expected, `${iface}#${fn}`);
    assert.deepEqual(s.denied, [`${cap} ${iface}#${fn}`], `${iface}#${fn} is noted as denied`);
  }
  assert.equal(observed.filter((o) => / (denied|dropped)$/.test(o)).length, DENIED_TABLE.length);
});

test('every function of both worlds is served, and every seed function has its denied answer', async () => {
  // the worlds' imports as the bindings generated from wit/ list them (wit/world.wit, wit/alga/world.wit)
  const importsOf = (w: Record<string, readonly string[]>) => Object.fromEntries(Object.entries(w).map(([iface, fns]) => [iface, [...fns]]));
  const world = importsOf(WORLD_IMPORTS);
  assert.deepEqual(registry.unserved(world), []);
  assert.deepEqual(registry.unserved(importsOf(ALGA_WORLD_IMPORTS)), []);
  const covered = new Set(DENIED_TABLE.map(([iface, fn]) => `${iface}#${fn}`));
  for (const [iface, fns] of Object.entries(world)) for (const fn of fns) assert.ok(covered.has(`${iface}#${fn}`), `${iface}#${fn} missing from the denied table`);
  for (const iface of ['alga:extension/scheduler', 'alga:extension/invoicing']) {
    for (const fn of ALGA_WORLD_IMPORTS[iface as keyof typeof ALGA_WORLD_IMPORTS]) assert.ok(covered.has(`${iface}#${fn}`), `${iface}#${fn} missing from the denied table`);
  }
});

test('a granted call reaches the capability (storage: missing key → missing, not denied)', async () => {
  const result = await registry.invoke(scope(['cap:storage.kv']), 'alga:extension/storage', 'get', ['n', 'nothing']);
  assert.deepEqual(result, { kind: 'err', code: 'missing' });
});
