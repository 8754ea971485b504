/**
 * The demo setup behind `npm start`, idempotent across restarts: the kitchen-sink example (every
 * capability, for curl) and the demo extension with its UI, both installed for tenant `demo`.
 */
import { createHash } from 'node:crypto';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { packBundle } from '../bundle/index.js';
import type { Registration } from './registration.js';
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

export const DEMO_UI_EXTENSION = 'com.example.demo';
const DEMO_UI_DIR = fileURLToPath(new URL('../../../examples/demo/', import.meta.url));
const DEMO_UI_COMPONENT = fileURLToPath(new URL('../../../.cache/examples/demo.wasm', import.meta.url));

/**
 * Packs examples/demo into a bundle in memory and registers it as the admin upload would. The
 * version carries the component's hash as a pre-release tag, so a rebuilt demo is a new version
 * rather than a conflict with the one an earlier run registered.
 */
export async function installDemoUi(runtime: Runtime, registration: Registration): Promise<{ extensionId: string; contentHash: string; entry: string }> {
  const mainWasm = await readFile(DEMO_UI_COMPONENT).catch(() => {
    throw new Error(`the demo UI component is missing (${DEMO_UI_COMPONENT}): run \`npm run examples\` first`);
  });
  const manifest = JSON.parse(await readFile(join(DEMO_UI_DIR, 'manifest.json'), 'utf8')) as { version: string; capabilities: string[]; ui: { entry: string } };
  manifest.version = `${manifest.version}-build.${createHash('sha256').update(mainWasm).digest('hex').slice(0, 12)}`;
  const uiFiles = new Map<string, Uint8Array>();
  for (const name of await readdir(join(DEMO_UI_DIR, 'ui'))) uiFiles.set(`ui/${name}`, await readFile(join(DEMO_UI_DIR, 'ui', name)));
  const packed = await packBundle({ manifestJson: JSON.stringify(manifest, null, 2), mainWasm, uiFiles });
  if (packed.kind === 'err') throw new Error(`packing the demo failed: ${packed.error.message}`);
  const { ids } = await registration.bundle(packed.value.bytes);
  const { registry } = runtime.store;
  const existing = await registry.findInstall(DEMO_TENANT_ID, ids.extension_id);
  if (existing) await registry.updateInstall(existing.id, { versionId: ids.version_id, grants: manifest.capabilities });
  else await registry.createInstall({ tenantId: DEMO_TENANT_ID, extensionId: ids.extension_id, versionId: ids.version_id, grants: manifest.capabilities });
  runtime.invalidateInstalls();
  return { extensionId: ids.extension_id, contentHash: ids.content_hash, entry: manifest.ui.entry.replace(/^ui\//, '') };
}
