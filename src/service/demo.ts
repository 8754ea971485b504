/**
 * The demo setup behind `npm start`, idempotent across restarts: the kitchen-sink example (every
 * capability, for curl) and the demo extension with its UI, both registered the way the admin
 * upload does and installed for tenant `demo`. Versions carry the component's hash as a pre-release
 * tag, so a rebuilt example is a new version rather than a conflict with an earlier run's.
 */
import { createHash } from 'node:crypto';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { packBundle } from '../bundle/index.js';
import { seedDemoTenantData, DEMO_TENANT_ID } from '../capabilities/demo-data.js';
import type { Registration, RegisteredVersion } from './registration.js';
import type { Runtime } from './runtime.js';

export const DEMO_EXTENSION = 'kitchen-sink';
export const DEMO_UI_EXTENSION = 'com.example.demo';
const examples = (path: string) => fileURLToPath(new URL(`../../../${path}`, import.meta.url));

async function readExample(path: string): Promise<Uint8Array> {
  try {
    return await readFile(examples(path));
  } catch {
    throw new Error(`the demo needs ${examples(path)}: run \`npm run examples\` first`);
  }
}

const buildTag = (bytes: Uint8Array) => `build.${createHash('sha256').update(bytes).digest('hex').slice(0, 12)}`;

/**
 * Points the demo tenant's install of a registered version at it (created on first run) and warms
 * it, as the admin API does, so the README's first requests do not wait for a cold start.
 */
async function installForDemoTenant(runtime: Runtime, ids: RegisteredVersion, grants: readonly string[]): Promise<string> {
  const { registry } = runtime.store;
  const existing = await registry.findInstall(DEMO_TENANT_ID, ids.extension_id);
  const install = existing
    ? await registry.updateInstall(existing.id, { versionId: ids.version_id, grants })
    : (await registry.createInstall({ tenantId: DEMO_TENANT_ID, extensionId: ids.extension_id, versionId: ids.version_id, grants })).install;
  const version = await registry.getVersion(ids.version_id);
  const warmed = version ? await runtime.warm(version, install!.limits) : null;
  if (warmed?.kind !== 'ok') throw new Error(`the demo extension ${ids.extension_id} does not start: ${warmed ? warmed.message : 'its version vanished'}`);
  return install!.id;
}

/** kitchen-sink as a bare component with every capability, plus the demo tenant's clients and services. */
export async function installDemo(runtime: Runtime, registration: Registration): Promise<{ installId: string }> {
  const component = await readExample('.cache/examples/kitchen-sink.wasm');
  const capabilities = runtime.registry.names();
  const version = `0.1.0-${buildTag(component)}`;
  const manifest = { name: DEMO_EXTENSION, publisher: 'alga-runner', version, runtime: 'wasm-js@1', capabilities };
  const { ids } = await registration.component({ name: DEMO_EXTENSION, publisher: 'alga-runner', version, manifest, component });
  const installId = await installForDemoTenant(runtime, ids, capabilities);
  await seedDemoTenantData(runtime.tenantStore, DEMO_TENANT_ID);
  return { installId };
}

/** examples/demo packed into a bundle in memory and registered as an upload would be. */
export async function installDemoUi(runtime: Runtime, registration: Registration): Promise<{ extensionId: string; contentHash: string; entry: string }> {
  const mainWasm = await readExample('.cache/examples/demo.wasm');
  const dir = examples('examples/demo');
  const manifest = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')) as { version: string; capabilities: string[]; ui: { entry: string } };
  manifest.version = `${manifest.version}-${buildTag(mainWasm)}`;
  const uiFiles = new Map<string, Uint8Array>();
  for (const name of await readdir(join(dir, 'ui'))) uiFiles.set(`ui/${name}`, await readFile(join(dir, 'ui', name)));
  const packed = await packBundle({ manifestJson: JSON.stringify(manifest, null, 2), mainWasm, uiFiles });
  if (packed.kind === 'err') throw new Error(`packing the demo failed: ${packed.error.message}`);
  const { ids } = await registration.bundle(packed.value.bytes);
  await installForDemoTenant(runtime, ids, manifest.capabilities);
  return { extensionId: ids.extension_id, contentHash: ids.content_hash, entry: manifest.ui.entry.replace(/^ui\//, '') };
}
