import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createLoggingCapability, LOGGING_CAPABILITY, LOGGING_INTERFACE } from '../../src/capabilities/logging.js';
import { CapabilityRegistry } from '../../src/capabilities/registry.js';
import { value } from '../../src/capabilities/capability.js';
import type { CapabilityName, ExecutionServices, InstallView } from '../../src/capabilities/capability.js';
import type { ExecutionContext } from '../../src/contract/index.js';

const ctx: ExecutionContext = { requestId: 'r', tenantId: 't', extensionId: 'e', installId: 'i', versionId: null, contentHash: 'sha256:00', user: null, config: {} };
const install: InstallView = { installId: 'i', tenantId: 't', extensionId: 'e', versionId: null, config: {}, egressAllow: [], uiProxy: null };

function recording() {
  const lines: Array<[string, string, string | undefined]> = [];
  const denied: string[] = [];
  const services: ExecutionServices = {
    log: (level, message, stream) => void lines.push([level, message, stream]),
    noteDenied: (_c, fn) => void denied.push(fn),
    signal: new AbortController().signal,
  };
  return { lines, denied, services };
}

describe('logging capability', () => {
  const cap = createLoggingCapability();
  const impl = cap.interfaces[0]!;

  it('declares cap:log.emit on alga:extension/logging, granted by default, denied calls dropped', () => {
    assert.equal(cap.name, LOGGING_CAPABILITY);
    assert.equal(cap.grantedByDefault, true);
    assert.equal(impl.name, LOGGING_INTERFACE);
    assert.deepEqual(Object.keys(impl.functions).sort(), ['error', 'info', 'logError', 'logInfo', 'logWarn', 'warn']);
    for (const fn of Object.keys(impl.functions)) assert.equal(impl.denied[fn], 'drop', fn);
  });

  for (const [fn, level] of [
    ['info', 'info'],
    ['warn', 'warn'],
    ['error', 'error'],
    ['logInfo', 'info'],
    ['logWarn', 'warn'],
    ['logError', 'error'],
  ] as const) {
    it(`${fn} writes a ${level} record through the execution's log and returns nothing`, async () => {
      const { lines, services } = recording();
      const result = await impl.functions[fn]!({ args: [`hello from ${fn} 😀`], ctx, config: null, state: null, services });
      assert.deepEqual(result, value(undefined));
      assert.deepEqual(lines, [[level, `hello from ${fn} 😀`, undefined]]);
    });
  }

  it('through the registry without the grant: dropped, nothing logged, the denial noted', async () => {
    const registry = new CapabilityRegistry().register(cap);
    const { lines, denied, services } = recording();
    const scope = { ctx, install, grants: new Set<CapabilityName>(), services, states: new Map() };
    assert.deepEqual(await registry.invoke(scope, LOGGING_INTERFACE, 'info', ['x']), { kind: 'dropped' });
    assert.deepEqual(lines, []);
    assert.deepEqual(denied, [`${LOGGING_INTERFACE}#info`]);
    const granted = { ...scope, grants: new Set<CapabilityName>([LOGGING_CAPABILITY]) };
    assert.deepEqual(await registry.invoke(granted, LOGGING_INTERFACE, 'logWarn', ['y']), value(undefined));
    assert.deepEqual(lines, [['warn', 'y', undefined]]);
  });
});
