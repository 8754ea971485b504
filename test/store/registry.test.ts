import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { backends, manualClock } from './backends.js';
import type { Extension, ExtensionVersion, Store } from '../../src/store/index.js';

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const hash = (c: string) => `sha256:${c.repeat(64)}`;

for (const backend of backends('registry')) {
  describe(`registry store (${backend.name})`, { skip: backend.skip }, () => {
    const clock = manualClock();
    let store: Store;
    let ext: Extension;
    let v1: ExtensionVersion;

    before(async () => {
      store = await backend.open({ now: clock.now });
      ext = await store.registry.ensureExtension({ name: 'kitchen-sink', publisher: 'alga' });
      const added = await store.registry.addVersion({ extensionId: ext.id, version: '1.0.0', contentHash: hash('a'), manifest: { name: 'kitchen-sink', capabilities: ['cap:storage.kv'] } });
      assert.equal(added.kind, 'created');
      v1 = added.version;
    });
    after(async () => {
      await store?.close();
      await backend.dispose();
    });

    it('ensureExtension creates once per (publisher, name) and returns the same row after', async () => {
      assert.match(ext.id, UUID_V4);
      assert.deepEqual(await store.registry.ensureExtension({ name: 'kitchen-sink', publisher: 'alga' }), ext);
      const other = await store.registry.ensureExtension({ name: 'kitchen-sink', publisher: 'someone-else' });
      assert.notEqual(other.id, ext.id);
      assert.deepEqual(await store.registry.getExtension(ext.id), ext);
      assert.equal(await store.registry.getExtension('00000000-0000-4000-8000-000000000000'), null);
      assert.deepEqual((await store.registry.findExtensionsByName('kitchen-sink')).map((e) => e.publisher).sort(), ['alga', 'someone-else']);
      assert.ok((await store.registry.listExtensions()).some((e) => e.id === ext.id));
    });

    it('addVersion: created, the same bytes again → exists, other bytes under the same number → conflict', async () => {
      assert.match(v1.id, UUID_V4);
      assert.deepEqual(v1.manifest, { name: 'kitchen-sink', capabilities: ['cap:storage.kv'] });
      assert.equal(v1.contentHash, hash('a'));
      const again = await store.registry.addVersion({ extensionId: ext.id, version: '1.0.0', contentHash: hash('a'), manifest: {} });
      assert.deepEqual(again, { kind: 'exists', version: v1 });
      const clash = await store.registry.addVersion({ extensionId: ext.id, version: '1.0.0', contentHash: hash('b'), manifest: {} });
      assert.deepEqual(clash, { kind: 'conflict', existing: v1 });
      clock.advance(1000);
      const v2 = await store.registry.addVersion({ extensionId: ext.id, version: '1.1.0', contentHash: hash('c'), manifest: { name: 'kitchen-sink' } });
      assert.equal(v2.kind, 'created');
      assert.deepEqual(
        (await store.registry.listVersions(ext.id)).map((v) => v.version),
        ['1.0.0', '1.1.0'],
      );
      assert.deepEqual(await store.registry.findVersion(ext.id, '1.1.0'), v2.version);
      assert.equal(await store.registry.findVersion(ext.id, '9.9.9'), null);
      assert.deepEqual(await store.registry.findVersionsByContentHash(hash('a')), [v1]);
      assert.deepEqual(await store.registry.getVersion(v1.id), v1);
    });

    it('caller-chosen ids: created with the id; found again; an id or a name taken by something else is id_conflict', async () => {
      const extId = 'ext-0f6c3a1e-mirror';
      const made = await store.registry.ensureExtensionWithId({ id: extId, name: 'mirrored', publisher: 'alga' });
      assert.ok(made.kind === 'ok');
      assert.equal(made.extension.id, extId);
      assert.deepEqual(await store.registry.ensureExtensionWithId({ id: extId, name: 'mirrored', publisher: 'alga' }), made);
      assert.deepEqual(await store.registry.ensureExtensionWithId({ id: extId, name: 'renamed', publisher: 'alga' }), { kind: 'id_conflict', existing: made.extension });
      assert.deepEqual(await store.registry.ensureExtensionWithId({ id: 'another-id', name: 'mirrored', publisher: 'alga' }), { kind: 'id_conflict', existing: made.extension });

      const version = await store.registry.addVersion({ id: 'ver-1', extensionId: extId, version: '1.0.0', contentHash: hash('d'), manifest: {} });
      assert.ok(version.kind === 'created');
      assert.equal(version.version.id, 'ver-1');
      assert.deepEqual(await store.registry.addVersion({ id: 'ver-1', extensionId: extId, version: '1.0.0', contentHash: hash('d'), manifest: {} }), { kind: 'exists', version: version.version });
      assert.deepEqual(await store.registry.addVersion({ id: 'ver-1', extensionId: extId, version: '1.0.0', contentHash: hash('e'), manifest: {} }), { kind: 'conflict', existing: version.version });
      assert.deepEqual(await store.registry.addVersion({ id: 'ver-1', extensionId: extId, version: '2.0.0', contentHash: hash('d'), manifest: {} }), {
        kind: 'id_conflict',
        existing: version.version,
      });
      assert.deepEqual(await store.registry.addVersion({ id: 'ver-2', extensionId: extId, version: '1.0.0', contentHash: hash('d'), manifest: {} }), {
        kind: 'id_conflict',
        existing: version.version,
      });

      const install = await store.registry.createInstall({ id: 'inst-chosen', tenantId: 'tenant-m', extensionId: extId, versionId: 'ver-1', grants: [] });
      assert.ok(install.kind === 'created');
      assert.equal(install.install.id, 'inst-chosen');
      // the id taken (whatever the install is), or the tenant's install under another id
      assert.deepEqual(await store.registry.createInstall({ id: 'inst-chosen', tenantId: 'tenant-n', extensionId: extId, versionId: 'ver-1', grants: [] }), {
        kind: 'id_taken',
        install: install.install,
      });
      assert.deepEqual(await store.registry.createInstall({ id: 'inst-other', tenantId: 'tenant-m', extensionId: extId, versionId: 'ver-1', grants: [] }), {
        kind: 'exists',
        install: install.install,
      });
      assert.equal(await store.registry.getInstall('inst-other'), null);
    });

    it('createInstall fills defaults; a second install of the extension for the tenant answers exists', async () => {
      const created = await store.registry.createInstall({ tenantId: 'tenant-a', extensionId: ext.id, versionId: v1.id, grants: ['cap:storage.kv'] });
      assert.equal(created.kind, 'created');
      const install = created.install;
      assert.match(install.id, UUID_V4);
      assert.deepEqual(
        { ...install, id: '', createdAt: null, updatedAt: null },
        {
          id: '',
          tenantId: 'tenant-a',
          extensionId: ext.id,
          versionId: v1.id,
          grants: ['cap:storage.kv'],
          config: {},
          egressAllow: [],
          uiProxy: null,
          limits: {},
          instanceMode: 'fresh',
          enabled: true,
          createdAt: null,
          updatedAt: null,
        },
      );
      assert.equal(install.createdAt.getTime(), clock.now());
      const dup = await store.registry.createInstall({ tenantId: 'tenant-a', extensionId: ext.id, versionId: v1.id, grants: [] });
      assert.deepEqual(dup, { kind: 'exists', install });
      assert.deepEqual(await store.registry.getInstall(install.id), install);
      assert.deepEqual(await store.registry.findInstall('tenant-a', ext.id), install);
      assert.equal(await store.registry.findInstall('tenant-b', ext.id), null);
    });

    it('stores every install field and patches only what is given', async () => {
      const created = await store.registry.createInstall({
        tenantId: 'tenant-c',
        extensionId: ext.id,
        versionId: v1.id,
        grants: ['cap:http.fetch', 'cap:secrets.get'],
        config: { region: 'eu' },
        egressAllow: ['https://*.example.com'],
        uiProxy: { baseUrl: 'https://alga.example.com', timeoutMs: 5000 },
        limits: { timeoutMs: 2000, memoryMb: 64 },
        instanceMode: 'reuse',
        enabled: false,
      });
      assert.ok(created.kind === 'created');
      const install = created.install;
      assert.deepEqual(install.uiProxy, { baseUrl: 'https://alga.example.com', timeoutMs: 5000 });
      assert.deepEqual(install.limits, { timeoutMs: 2000, memoryMb: 64 });
      assert.equal(install.instanceMode, 'reuse');
      assert.equal(install.enabled, false);

      clock.advance(5000);
      const patched = await store.registry.updateInstall(install.id, { enabled: true, config: { region: 'us' }, uiProxy: null });
      assert.ok(patched);
      assert.equal(patched.enabled, true);
      assert.deepEqual(patched.config, { region: 'us' });
      assert.equal(patched.uiProxy, null);
      assert.deepEqual(patched.grants, install.grants);
      assert.deepEqual(patched.egressAllow, install.egressAllow);
      assert.equal(patched.createdAt.getTime(), install.createdAt.getTime());
      assert.equal(patched.updatedAt.getTime(), install.createdAt.getTime() + 5000);
      assert.equal(await store.registry.updateInstall('00000000-0000-4000-8000-000000000000', { enabled: false }), null);
      assert.deepEqual(
        (await store.registry.listInstalls({ tenantId: 'tenant-c' })).map((i) => i.id),
        [install.id],
      );
      assert.ok((await store.registry.listInstalls({ extensionId: ext.id })).length >= 2);
    });

    it('deleteInstall removes the install with its secrets, storage and logs', async () => {
      const created = await store.registry.createInstall({ tenantId: 'tenant-d', extensionId: ext.id, versionId: v1.id, grants: [] });
      assert.ok(created.kind === 'created');
      const id = created.install.id;
      await store.db
        .insertInto('install_secrets')
        .values({ install_id: id, name: 'k', iv: Buffer.alloc(12), ciphertext: Buffer.alloc(1), auth_tag: Buffer.alloc(16), expires_at: null, created_at: 0 })
        .execute();
      await store.kv.put(id, { namespace: 'n', key: 'k', value: new Uint8Array([1]) });
      await store.logs.append([{ level: 'info', stream: 'log', message: 'm', tenant: 'tenant-d', extension: ext.id, install: id, version: null, request_id: null }]);

      assert.equal(await store.registry.deleteInstall(id), true);
      assert.equal(await store.registry.getInstall(id), null);
      assert.deepEqual(await store.secrets.listSecretNames(id), []);
      assert.deepEqual(await store.kv.get(id, 'n', 'k'), { kind: 'missing' });
      assert.deepEqual(await store.kv.usage(id), { totalBytes: 0, namespaces: 0 });
      assert.deepEqual(await store.logs.query({ installId: id }), []);
      assert.equal(await store.registry.deleteInstall(id), false);
    });
  });
}
