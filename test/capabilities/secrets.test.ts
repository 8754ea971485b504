import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { backends, dumpAllRows, manualClock } from '../store/backends.js';
import { createSecretsCapability, SECRETS_CAPABILITY, SECRETS_INTERFACE } from '../../src/capabilities/secrets.js';
import { CapabilityRegistry } from '../../src/capabilities/registry.js';
import { err, ok, value } from '../../src/capabilities/capability.js';
import type { CapabilityName, ExecutionServices, HostResult, InstallView } from '../../src/capabilities/capability.js';
import type { ExecutionContext } from '../../src/contract/index.js';
import type { Store } from '../../src/store/index.js';

function installView(installId: string): InstallView {
  return { installId, tenantId: 'tenant-1', extensionId: 'ext-1', versionId: 'ver-1', config: {}, egressAllow: [], uiProxy: null };
}

function context(installId: string): ExecutionContext {
  return { requestId: 'req-1', tenantId: 'tenant-1', extensionId: 'ext-1', installId, versionId: 'ver-1', contentHash: 'sha256:00', user: null, config: {} };
}

for (const backend of backends('capsecrets')) {
  describe(`secrets capability (${backend.name})`, { skip: backend.skip }, () => {
    const clock = manualClock();
    const plaintext = `sk-${randomBytes(16).toString('hex')}`;
    const lines: string[] = [];
    const services: ExecutionServices = {
      log: (level, message) => void lines.push(`${level} ${message}`),
      noteDenied: (cap, fn, reason) => void lines.push(`denied ${cap} ${fn} ${reason}`),
      signal: new AbortController().signal,
    };
    let store: Store;
    const results: HostResult[] = [];

    before(async () => {
      store = await backend.open({ secretsKey: randomBytes(32), now: clock.now });
      await store.secrets.putSecrets('inst-1', { api_key: plaintext, region: 'eu' });
      await store.secrets.putSecrets('inst-2', { soon: 'gone' }, new Date(clock.now() + 1000));
    });
    after(async () => {
      await store?.close();
      await backend.dispose();
    });

    async function call(installId: string, fn: string, secrets = store.secrets, ...args: unknown[]): Promise<HostResult> {
      const cap = createSecretsCapability(secrets);
      const config = cap.configure(installView(installId));
      const result = await cap.interfaces[0]!.functions[fn]!({ args, ctx: context(installId), config, state: cap.prepare(context(installId), config), services });
      results.push(result);
      return result;
    }

    it('declares cap:secrets.get on alga:extension/secrets; denied: get → denied, list/listKeys → []', () => {
      const cap = createSecretsCapability(store.secrets);
      assert.equal(cap.name, SECRETS_CAPABILITY);
      assert.equal(cap.grantedByDefault, false);
      const impl = cap.interfaces[0]!;
      assert.equal(impl.name, SECRETS_INTERFACE);
      assert.deepEqual(Object.keys(impl.functions).sort(), ['get', 'list', 'listKeys']);
      assert.deepEqual(impl.denied, { get: err('denied'), list: value([]), listKeys: value([]) });
      assert.deepEqual(impl.onFailure, err('internal'));
    });

    it('get → ok(value) | err(missing) | err(expired)', async () => {
      assert.deepEqual(await call('inst-1', 'get', undefined, 'api_key'), ok(plaintext));
      assert.deepEqual(await call('inst-1', 'get', undefined, 'nope'), err('missing'));
      assert.deepEqual(await call('inst-3', 'get', undefined, 'api_key'), err('missing'));
      assert.deepEqual(await call('inst-2', 'get', undefined, 'soon'), ok('gone'));
      clock.advance(1000);
      assert.deepEqual(await call('inst-2', 'get', undefined, 'soon'), err('expired'));
    });

    it('list and listKeys → names only, without expired ones', async () => {
      assert.deepEqual(await call('inst-1', 'list'), value(['api_key', 'region']));
      assert.deepEqual(await call('inst-1', 'listKeys'), value(['api_key', 'region']));
      assert.deepEqual(await call('inst-2', 'list'), value([]));
    });

    it('a value that does not decrypt under the configured key → err(internal), logged without the value', async () => {
      const wrongKey = await backend.open({ secretsKey: randomBytes(32) });
      try {
        assert.deepEqual(await call('inst-1', 'get', wrongKey.secrets, 'api_key'), err('internal'));
        assert.match(lines.at(-1) ?? '', /^error secret "api_key" could not be decrypted/);
      } finally {
        await wrongKey.close();
      }
    });

    it('through the registry: without the grant get → err(denied) and list → []', async () => {
      const registry = new CapabilityRegistry().register(createSecretsCapability(store.secrets));
      const scope = { ctx: context('inst-1'), install: installView('inst-1'), grants: new Set<CapabilityName>(), services, states: new Map() };
      const denied = await registry.invoke(scope, SECRETS_INTERFACE, 'get', ['api_key']);
      const listed = await registry.invoke(scope, SECRETS_INTERFACE, 'list', []);
      results.push(denied as HostResult, listed as HostResult);
      assert.deepEqual(denied, err('denied'));
      assert.deepEqual(listed, value([]));
      const granted = { ...scope, grants: new Set<CapabilityName>([SECRETS_CAPABILITY]), states: new Map() };
      assert.deepEqual(await registry.invoke(granted, SECRETS_INTERFACE, 'get', ['region']), ok('eu'));
    });

    it('the plaintext appears in no stored row, log line or error answer — only in the one ok() the guest asked for', async () => {
      const dump = await dumpAllRows(store);
      assert.ok(dump.includes('inst-1'));
      for (const encoding of [plaintext, Buffer.from(plaintext).toString('hex'), Buffer.from(plaintext).toString('base64')]) {
        assert.ok(!dump.includes(encoding), 'plaintext in a stored row');
      }
      assert.ok(lines.length > 0);
      for (const line of lines) assert.ok(!line.includes(plaintext), `plaintext in log line: ${line}`);
      const carrying = results.filter((r) => JSON.stringify(r).includes(plaintext));
      assert.deepEqual(carrying, [ok(plaintext)]);
    });
  });
}
