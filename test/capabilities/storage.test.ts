import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { backends } from '../store/backends.js';
import { createStorageCapability, STORAGE_CAPABILITY, STORAGE_INTERFACE } from '../../src/capabilities/storage.js';
import { CapabilityRegistry } from '../../src/capabilities/registry.js';
import { err } from '../../src/capabilities/capability.js';
import type { CapabilityName, ExecutionServices, HostResult, InstallView } from '../../src/capabilities/capability.js';
import type { ExecutionContext } from '../../src/contract/index.js';
import { DEFAULT_KV_LIMITS } from '../../src/store/index.js';
import type { Store } from '../../src/store/index.js';

const bytes = (s: string) => new TextEncoder().encode(s);

function installView(installId: string): InstallView {
  return { installId, tenantId: 'tenant-1', extensionId: 'ext-1', versionId: 'ver-1', config: {}, egressAllow: [], uiProxy: null };
}

function context(installId: string): ExecutionContext {
  return { requestId: 'req-1', tenantId: 'tenant-1', extensionId: 'ext-1', installId, versionId: 'ver-1', contentHash: 'sha256:00', user: null, config: {} };
}

/** The execution's services as a capability sees them, recording what it logs and denies. */
function recordingServices() {
  const lines: Array<{ level: string; message: string }> = [];
  const denied: string[] = [];
  const services: ExecutionServices = {
    log: (level, message) => void lines.push({ level, message }),
    noteDenied: (_cap: CapabilityName, fn: string) => void denied.push(fn),
    signal: new AbortController().signal,
  };
  return { services, lines, denied };
}

for (const backend of backends('capstorage')) {
  describe(`storage capability (${backend.name})`, { skip: backend.skip }, () => {
    let store: Store;
    const limits = { ...DEFAULT_KV_LIMITS, maxValueBytes: 16, pageSize: 3 };

    before(async () => {
      store = await backend.open();
    });
    after(async () => {
      await store?.close();
      await backend.dispose();
    });

    /** Call one storage function for an install, directly (no grant check). */
    function caller(installId: string) {
      const cap = createStorageCapability(store.kv, limits);
      const impl = cap.interfaces[0]!;
      const config = cap.configure(installView(installId));
      const state = cap.prepare(context(installId), config);
      const rec = recordingServices();
      const call = async (fn: string, ...args: unknown[]): Promise<HostResult> => impl.functions[fn]!({ args, ctx: context(installId), config, state, services: rec.services });
      return { call, rec };
    }

    it('declares cap:storage.kv on alga:extension/storage with every function and alias, denied → denied', () => {
      const cap = createStorageCapability(store.kv);
      assert.equal(cap.name, STORAGE_CAPABILITY);
      assert.equal(cap.grantedByDefault, false);
      const impl = cap.interfaces[0]!;
      assert.equal(impl.name, STORAGE_INTERFACE);
      assert.deepEqual(Object.keys(impl.functions).sort(), ['delete', 'get', 'list', 'listEntries', 'put']);
      for (const fn of Object.keys(impl.functions)) assert.deepEqual(impl.denied[fn], err('denied'), fn);
      assert.deepEqual(impl.onFailure, err('internal'));
    });

    it('put → ok(entry with bigint revision); get returns bytes and revision; missing → err(missing)', async () => {
      const { call } = caller('cap-i1');
      const put = await call('put', { namespace: 'ns', key: 'k', value: bytes('hello') });
      assert.deepEqual(put, { kind: 'ok', value: { namespace: 'ns', key: 'k', value: bytes('hello'), revision: 1n } });
      const got = await call('get', 'ns', 'k');
      assert.equal(got.kind, 'ok');
      const entry = (got as { value: { value: Uint8Array; revision: bigint } }).value;
      assert.ok(entry.value instanceof Uint8Array);
      assert.deepEqual([...entry.value], [...bytes('hello')]);
      assert.equal(entry.revision, 1n);
      assert.deepEqual(await call('get', 'ns', 'absent'), err('missing'));
    });

    it('compare-and-swap with bigint revisions: match writes, mismatch and 0-on-existing conflict, absurd revisions conflict', async () => {
      const { call } = caller('cap-i2');
      assert.equal((await call('put', { namespace: 'ns', key: 'k', value: bytes('a'), revision: 0n })).kind, 'ok');
      assert.deepEqual(await call('put', { namespace: 'ns', key: 'k', value: bytes('b'), revision: 0n }), err('conflict'));
      const swapped = await call('put', { namespace: 'ns', key: 'k', value: bytes('b'), revision: 1n });
      assert.equal((swapped as { value: { revision: bigint } }).value.revision, 2n);
      assert.deepEqual(await call('put', { namespace: 'ns', key: 'k', value: bytes('c'), revision: 1n }), err('conflict'));
      assert.deepEqual(await call('put', { namespace: 'ns', key: 'k', value: bytes('c'), revision: 2n ** 63n }), err('conflict'));
    });

    it('delete → ok(undefined), then err(missing)', async () => {
      const { call } = caller('cap-i3');
      await call('put', { namespace: 'ns', key: 'k', value: bytes('a') });
      assert.deepEqual(await call('delete', 'ns', 'k'), { kind: 'ok', value: undefined });
      assert.deepEqual(await call('delete', 'ns', 'k'), err('missing'));
    });

    it('list and listEntries page by cursor in key order until an empty page', async () => {
      const { call } = caller('cap-i4');
      for (const k of ['e', 'a', 'd', 'b', 'c']) await call('put', { namespace: 'ns', key: k, value: bytes(k) });
      const keysOf = (r: HostResult) => {
        assert.equal(r.kind, 'ok');
        return (r as { value: Array<{ key: string; revision: bigint }> }).value.map((e) => {
          assert.equal(typeof e.revision, 'bigint');
          return e.key;
        });
      };
      assert.deepEqual(keysOf(await call('list', 'ns', undefined)), ['a', 'b', 'c']);
      assert.deepEqual(keysOf(await call('listEntries', 'ns', 'c')), ['d', 'e']);
      assert.deepEqual(keysOf(await call('list', 'ns', 'e')), []);
    });

    it('quota denials answer err(denied) and log the reason as a warning', async () => {
      const { call, rec } = caller('cap-i5');
      assert.deepEqual(await call('put', { namespace: 'ns', key: 'k', value: new Uint8Array(17) }), err('denied'));
      assert.deepEqual(rec.lines, [{ level: 'warn', message: 'storage.put denied: value of 17 bytes exceeds 16 bytes' }]);
      assert.deepEqual(await call('get', '', 'k'), err('denied'));
      assert.deepEqual(rec.lines[1], { level: 'warn', message: 'storage.get denied: namespace must not be empty' });
    });

    it('keeps installs apart', async () => {
      const a = caller('cap-i6');
      const b = caller('cap-i7');
      await a.call('put', { namespace: 'ns', key: 'k', value: bytes('a') });
      assert.deepEqual(await b.call('get', 'ns', 'k'), err('missing'));
    });

    it('malformed guest values answer err(internal)', async () => {
      const { call } = caller('cap-i8');
      assert.deepEqual(await call('put', { namespace: 'ns', key: 'k', value: 'not bytes' }), err('internal'));
      assert.deepEqual(await call('get', 'ns', 42), err('internal'));
    });

    it('through the registry: without the grant → err(denied) and noted; a failing backend → err(internal)', async () => {
      const registry = new CapabilityRegistry().register(createStorageCapability(store.kv, limits));
      const rec = recordingServices();
      const scope = (grants: CapabilityName[]) => ({
        ctx: context('cap-i9'),
        install: installView('cap-i9'),
        grants: new Set(grants),
        services: rec.services,
        states: new Map(),
      });
      assert.deepEqual(await registry.invoke(scope([]), STORAGE_INTERFACE, 'get', ['ns', 'k']), err('denied'));
      assert.deepEqual(rec.denied, [`${STORAGE_INTERFACE}#get`]);
      assert.deepEqual(await registry.invoke(scope([STORAGE_CAPABILITY]), STORAGE_INTERFACE, 'get', ['ns', 'k']), err('missing'));

      const closed = await backend.open();
      await closed.close();
      const broken = new CapabilityRegistry().register(createStorageCapability(closed.kv, limits));
      assert.deepEqual(await broken.invoke(scope([STORAGE_CAPABILITY]), STORAGE_INTERFACE, 'put', [{ namespace: 'ns', key: 'k', value: bytes('x') }]), err('internal'));
      assert.equal(rec.lines.at(-1)?.level, 'error');
    });
  });
}
