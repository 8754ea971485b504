/**
 * Every dialect in wit/ (wit/world.wit, the seed, and wit/<name>/world.wit) is served: for each,
 * a component built against its world (wasm-tools' dummy implementation, which imports every
 * function of every interface the world imports) passes the install-time shape check, and every
 * function jco binds for it is served by the registry — with a denied answer, not "no capability
 * serves". The generated bindings (src/generated/wit/) must be what the WIT generates today and
 * list the same functions jco binds.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { componentEmbed, componentNew } from '@bytecodealliance/jco-transpile/wasm-tools';
import { createCapabilityRegistry } from '../src/capabilities/index.js';
import { DIALECTS } from '../src/capabilities/dialects.js';
import type { CapabilityRegistry } from '../src/capabilities/registry.js';
import type { ExecutionView } from '../src/contract/index.js';
import type { ExecutionServices } from '../src/capabilities/capability.js';
import { importedFunctionsOf, transpileComponent } from '../src/engine/artifact-store.js';
import { checkComponentShape } from '../src/engine/component-check.js';
import { openStore, type Store } from '../src/store/index.js';
import { createStoreTenantData } from '../src/store/tenant-data.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

/** scripts/wit-types.mjs, the generator `npm run build` runs. */
interface WitTypes {
  dialects(): { name: string; path: string }[];
  generateAll(): Promise<{ dialect: string; path: string; text: string }[]>;
  staleFiles(files: { path: string; text: string }[]): string[];
}
const witTypes = (await import(pathToFileURL(join(root, 'scripts', 'wit-types.mjs')).href)) as WitTypes;

/** The functions jco binds for a component built against world `runner` of this WIT, by interface (as at install). */
async function importedFunctionsOfWorld(wit: string): Promise<{ component: Uint8Array; imported: Record<string, string[]> }> {
  const component = await componentNew(await componentEmbed({ dummy: true, witSource: wit, world: 'runner' }));
  const files = await transpileComponent(component);
  const glue = new TextDecoder().decode(files['guest.js']);
  const imported = Object.fromEntries(Object.entries(importedFunctionsOf(glue)).filter(([iface]) => iface.startsWith('alga:extension/')));
  return { component, imported };
}

let dir: string;
let store: Store;
let registry: CapabilityRegistry;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'wit-dialects-'));
  store = await openStore({ dataDir: dir });
  registry = createCapabilityRegistry({ store, tenantData: createStoreTenantData(store.db), http: { allowPrivate: false } });
});
after(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

function ungranted(): ExecutionView {
  const services: ExecutionServices = { log: () => {}, noteDenied: () => {}, signal: new AbortController().signal };
  return {
    ctx: { requestId: 'r', tenantId: 't', extensionId: 'e', installId: 'i', versionId: 'v', contentHash: 'sha256:x', user: null, config: {} },
    install: { installId: 'i', tenantId: 't', extensionId: 'e', versionId: 'v', config: {}, egressAllow: [], uiProxy: null },
    grants: new Set(),
    services,
    states: new Map(),
  };
}

test("wit/ holds the seed and Alga's later dialect, and the dialect table names exactly those", () => {
  const names = witTypes.dialects().map((d) => d.name);
  assert.deepEqual(names, ['seed', 'alga']);
  assert.deepEqual(Object.keys(DIALECTS).sort(), [...names].sort());
});

for (const { name, path } of witTypes.dialects()) {
  test(`dialect ${name}: every function of its world is served, with a denied answer, and install accepts the component`, async () => {
    const { component, imported } = await importedFunctionsOfWorld(readFileSync(path, 'utf8'));
    const functions = Object.entries(imported).flatMap(([iface, fns]) => fns.map((fn) => `${iface}#${fn}`));
    assert.ok(functions.length >= 10, `jco binds the world's functions (${functions.join(', ')})`);

    const shape = await checkComponentShape(component);
    assert.equal(shape.kind, 'ok', JSON.stringify(shape));

    assert.deepEqual(registry.unserved(imported), [], `dialect ${name}: functions no capability serves`);
    for (const key of functions) {
      const [iface, fn] = key.split('#') as [string, string];
      const answer = await registry.invoke(ungranted(), iface, fn, []);
      assert.notEqual(answer.kind, 'failed', `${key} without its grant: ${JSON.stringify(answer)}`);
    }

    // the dialect table and the generated bindings list the same functions jco binds
    const table = DIALECTS[name as keyof typeof DIALECTS] as Readonly<Record<string, Readonly<Record<string, string>>>>;
    for (const [iface, fns] of Object.entries(imported)) assert.deepEqual(Object.keys(table[iface] ?? {}).sort(), [...fns].sort(), `DIALECTS.${name}['${iface}']`);
    const generated = (await import(pathToFileURL(join(root, 'dist', 'src', 'generated', 'wit', `${name}.js`)).href)) as { WORLD_IMPORTS: Record<string, readonly string[]> };
    assert.deepEqual(Object.fromEntries(Object.entries(generated.WORLD_IMPORTS).map(([i, f]) => [i, [...f].sort()])), imported);
  });
}

test('a function a dialect adds and nobody serves is reported unserved (what install refuses with unserved_import)', async () => {
  const seed = readFileSync(join(root, 'wit', 'world.wit'), 'utf8');
  const added = seed.replace(
    'get: func(key: string) -> result<string, secret-error>;',
    'get: func(key: string) -> result<string, secret-error>;\n  rotate: func(key: string) -> result<string, secret-error>;',
  );
  assert.notEqual(added, seed);
  const { imported } = await importedFunctionsOfWorld(added);
  assert.deepEqual(registry.unserved(imported), ['alga:extension/secrets#rotate']);
});

test('the generated bindings are what wit/ generates today (else: node scripts/wit-types.mjs)', async () => {
  const files = await witTypes.generateAll();
  assert.deepEqual(
    files.map((f) => f.dialect),
    witTypes.dialects().map((d) => d.name),
  );
  assert.deepEqual(witTypes.staleFiles(files), []);
});
