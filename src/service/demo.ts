/** Installs the demo extension (the kitchen-sink example) for tenant `demo`, idempotently. */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { seedDemoTenantData, DEMO_TENANT_ID } from '../capabilities/demo-data.js';
import type { Runtime } from './runtime.js';

export const DEMO_EXTENSION = 'kitchen-sink';
const DEMO_VERSION = '0.1.0';
const DEMO_COMPONENT = fileURLToPath(new URL('../../../.cache/examples/kitchen-sink.wasm', import.meta.url));

export async function installDemo(runtime: Runtime): Promise<{ installId: string }> {
  const { registry } = runtime.store;
  let bytes: Uint8Array;
  try {
    bytes = await readFile(DEMO_COMPONENT);
  } catch {
    throw new Error(`the demo component is missing (${DEMO_COMPONENT}): run \`npm run examples\` first`);
  }
  const prepared = await runtime.engine.prepare(bytes);
  if (prepared.kind === 'err') throw new Error(`the demo component is invalid: ${prepared.problem.message}`);
  const capabilities = runtime.registry.names();
  const extension = await registry.ensureExtension({ name: DEMO_EXTENSION, publisher: 'alga-runner' });
  const manifest = { name: DEMO_EXTENSION, publisher: 'alga-runner', version: DEMO_VERSION, runtime: 'wasm-js@1', capabilities, component_hash: prepared.artifact.contentHash };
  const added = await registry.addVersion({ extensionId: extension.id, version: DEMO_VERSION, contentHash: prepared.artifact.contentHash, manifest });
  // a rebuilt demo component under the same version: register it as a new patch-level version
  const version = added.kind === 'conflict' ? await addRebuilt(runtime, extension.id, prepared.artifact.contentHash, manifest) : added.version;
  const existing = await registry.findInstall(DEMO_TENANT_ID, extension.id);
  const install = existing
    ? await registry.updateInstall(existing.id, { versionId: version.id, grants: capabilities })
    : (await registry.createInstall({ tenantId: DEMO_TENANT_ID, extensionId: extension.id, versionId: version.id, grants: capabilities })).install;
  await seedDemoTenantData(runtime.tenantStore, DEMO_TENANT_ID);
  runtime.invalidateInstalls();
  return { installId: install!.id };
}

async function addRebuilt(runtime: Runtime, extensionId: string, contentHash: string, manifest: Record<string, unknown>) {
  const { registry } = runtime.store;
  const same = (await registry.findVersionsByContentHash(contentHash)).find((v) => v.extensionId === extensionId);
  if (same) return same;
  const versions = await registry.listVersions(extensionId);
  const next = `${DEMO_VERSION}-build.${versions.length}`;
  const added = await registry.addVersion({ extensionId, version: next, contentHash, manifest: { ...manifest, version: next } });
  if (added.kind === 'conflict') throw new Error(`demo version ${next} already exists with other content`);
  return added.version;
}
