/**
 * `alga-runner build` as an author runs it (a real process, real esbuild, TypeScript and
 * componentize-js): one project from `alga-runner new` is componentized once and reused by the
 * other cases, which edit it and put it back. Also a project written for Alga's SDK
 * (`@alga-psa/extension-runtime`, direct `alga:extension/*` imports, no tsconfig.json) builds
 * unchanged and answers.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli, type CliResult } from '../support/cli-process.js';

const work = mkdtempSync(join(tmpdir(), 'alga-runner-build-'));
after(() => rmSync(work, { recursive: true, force: true }));

const project = join(work, 'notes');
const source = join(project, 'src', 'index.ts');
const componentsCache = join(project, '.alga-runner', 'build', 'components');
const cachedComponents = () => (existsSync(componentsCache) ? readdirSync(componentsCache).sort() : []);

/** Runs `edit` on src/index.ts, then the build; puts the source back whatever happens. */
async function buildWithSource(edit: (text: string) => string, args: string[] = []): Promise<CliResult> {
  const original = readFileSync(source, 'utf8');
  const edited = edit(original);
  assert.notEqual(edited, original, 'the edit must change the source');
  writeFileSync(source, edited);
  try {
    return await runCli(['build', ...args], project);
  } finally {
    writeFileSync(source, original);
  }
}

describe('alga-runner build', () => {
  let first: CliResult;
  let firstBytes: Buffer;

  before(async () => {
    const made = await runCli(['new', 'notes', '--template', 'ui'], work);
    assert.equal(made.code, 0, made.stderr);
    assert.ok(!existsSync(join(project, 'dist')), 'a new project has no dist/ yet');
    first = await runCli(['build'], project);
    assert.equal(first.code, 0, first.stderr);
    firstBytes = readFileSync(join(project, 'dist', 'main.wasm'));
  });

  it('type-checks, bundles and componentizes into dist/main.wasm (created), with progress and a size report', () => {
    assert.match(first.stderr, /type check passed: \d+ files/);
    assert.match(first.stderr, /bundled src\/index\.ts for the seed world/);
    assert.match(first.stderr, /componentizing with componentize-js/);
    assert.match(first.stderr, /dist\/main\.wasm: [\d.]+ MB \(componentized in [\d.]+ s\)/);
    assert.match(first.stderr, /ui\/: 3 files/);
    assert.deepEqual([...firstBytes.subarray(0, 4)], [0x00, 0x61, 0x73, 0x6d], 'a WebAssembly binary');
    assert.equal(cachedComponents().length, 1);
  });

  it('an unchanged build comes from the cache: no type check, no componentize, the same bytes', async () => {
    rmSync(join(project, 'dist'), { recursive: true });
    const again = await runCli(['build'], project);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /\(unchanged sources: from the build cache\)/);
    assert.doesNotMatch(again.stderr, /componentizing|type check/);
    assert.ok(readFileSync(join(project, 'dist', 'main.wasm')).equals(firstBytes));
  });

  it('a comment changes the sources, not the bundle: type-checked again, the component still from the cache', async () => {
    const built = await buildWithSource((text) => `${text}\n// a comment esbuild drops\n`);
    assert.equal(built.code, 0, built.stderr);
    assert.match(built.stderr, /type check passed/);
    assert.doesNotMatch(built.stderr, /componentizing/);
    assert.ok(readFileSync(join(project, 'dist', 'main.wasm')).equals(firstBytes));
  });

  it('a type error fails before anything slow, naming file:line:column, and componentizes nothing', async () => {
    const before = cachedComponents();
    const built = await buildWithSource((text) => text.replace('createdBy: ctx.tenantId', 'createdBy: ctx.tenantIdd'));
    assert.equal(built.code, 1);
    assert.match(
      built.stderr,
      /alga-runner build: type check failed \(1 error\), nothing was componentized:\n {2}src\/index\.ts:\d+:\d+: TS2551: Property 'tenantIdd' does not exist on type 'Context'/,
    );
    assert.doesNotMatch(built.stderr, /componentizing/);
    assert.deepEqual(cachedComponents(), before);
  });

  it('an import of a module that does not exist, or of a name the SDK does not export, is a type error', async () => {
    const missingModule = await buildWithSource((text) => text.replace('import { createApp', "import { shout } from './shout.js';\nshout();\nimport { createApp"));
    assert.equal(missingModule.code, 1);
    assert.match(missingModule.stderr, /src\/index\.ts:\d+:\d+: TS2307: Cannot find module '\.\/shout\.js'/);
    const missingName = await buildWithSource((text) => text.replace('import { createApp,', 'import { createApp, createRouter,'));
    assert.equal(missingName.code, 1);
    assert.match(missingName.stderr, /TS2305: Module '"@alga-runner\/sdk"' has no exported member 'createRouter'/);
  });

  it('an entry that does not export handler is said so', async () => {
    const built = await buildWithSource((text) => text.replace('export const handler = app.handler;', 'const handler = app.handler;\nvoid handler;'));
    assert.equal(built.code, 1);
    assert.match(built.stderr, /src\/index\.ts does not export `handler`/);
  });

  it('--out writes where it is told, making the directories on the way', async () => {
    const built = await runCli(['build', '--out', 'out/deep/er/component.wasm'], project);
    assert.equal(built.code, 0, built.stderr);
    assert.ok(readFileSync(join(project, 'out', 'deep', 'er', 'component.wasm')).equals(firstBytes));
  });

  it('no manifest, no entry, a manifest the runner refuses: one message each', async () => {
    const empty = join(work, 'empty');
    mkdirSync(empty);
    const noManifest = await runCli(['build'], empty);
    assert.equal(noManifest.code, 1);
    assert.match(noManifest.stderr, /^alga-runner build: no manifest\.json in .*empty: run the build in an extension project/);
    writeFileSync(join(empty, 'manifest.json'), readFileSync(join(project, 'manifest.json')));
    const noEntry = await runCli(['build'], empty);
    assert.equal(noEntry.code, 1);
    assert.match(noEntry.stderr, /^alga-runner build: no entry module src\/index\.ts in /);
    writeFileSync(join(empty, 'manifest.json'), JSON.stringify({ name: 'x', version: 'one' }));
    const invalid = await runCli(['build'], empty);
    assert.equal(invalid.code, 1);
    assert.match(invalid.stderr, /manifest\.json is not valid \(docs\/manifest\.md\):\n {2}- /);
    assert.equal(existsSync(join(empty, 'dist')), false);
  });
});

describe("alga-runner build: a project written for Alga's SDK builds unchanged", () => {
  const alga = join(work, 'alga-style');

  before(() => {
    // the shape of Alga's samples: no tsconfig.json, no @alga-runner/sdk, Alga's runtime for types
    // and helpers, the world's functions imported directly (Alga's names), `./handler.ts` imports,
    // and `null` where the WIT's option<T> is undefined (which Alga's toolchain never type-checks)
    mkdirSync(join(alga, 'src'), { recursive: true });
    writeFileSync(
      join(alga, 'manifest.json'),
      JSON.stringify({
        name: 'com.example.alga-style',
        publisher: 'Example',
        version: '1.0.0',
        runtime: 'wasm-js@1',
        capabilities: ['cap:client.read'],
        api: { endpoints: [{ method: 'GET', path: '/api/clients', handler: 'dist/main' }] },
      }),
    );
    writeFileSync(
      join(alga, 'src', 'handler.ts'),
      [
        "import type { ExecuteRequest, ExecuteResponse, HostBindings } from '@alga-psa/extension-runtime';",
        "import { jsonResponse } from '@alga-psa/extension-runtime';",
        'export async function route(request: ExecuteRequest, host: Pick<HostBindings, "clients">): Promise<ExecuteResponse> {',
        "  if (!request.http.url.startsWith('/api/clients')) return jsonResponse({ error: 'not_found' }, { status: 404 });",
        '  const page = await host.clients.list({ page: 1, pageSize: 2 });',
        '  return jsonResponse({ names: page.items.map((c) => c.clientName) });',
        '}',
        '',
      ].join('\n'),
    );
    writeFileSync(
      join(alga, 'src', 'index.ts'),
      [
        "import type { ExecuteRequest, ExecuteResponse, HostBindings } from '@alga-psa/extension-runtime';",
        "import { getClient, listClients } from 'alga:extension/clients';",
        "import { route } from './handler.ts';",
        "const clients: HostBindings['clients'] = {",
        '  list: async (input) => listClients(input ?? {}),',
        '  get: async (id: string) => getClient(id),', // ClientSummary | undefined where Alga's type says | null
        '};',
        'export async function handler(request: ExecuteRequest): Promise<ExecuteResponse> {',
        '  return route(request, { clients });',
        '}',
        '',
      ].join('\n'),
    );
  });

  it("builds for Alga's world with the type errors as warnings, and the component answers", async () => {
    const built = await runCli(['build'], alga);
    assert.equal(built.code, 0, built.stderr);
    assert.match(built.stderr, /warning: 1 type error taken as warnings .*\n {2}src\/index\.ts:6:3: TS2322/);
    assert.match(built.stderr, /for the alga world \(the sources use Alga's @alga-psa\/extension-runtime\)/);
    const ran = await runCli(['run', 'dist/main.wasm', '--path', '/api/clients', '--grant', 'cap:client.read', '--tenant', 'demo'], alga);
    assert.equal(ran.code, 0, ran.stderr);
    const answer = JSON.parse(ran.stdout) as { status: number; body: string };
    assert.equal(answer.status, 200);
    assert.equal((JSON.parse(answer.body) as { names: string[] }).names.length, 2);
  });

  it('an import the world does not have is still an error', async () => {
    const index = join(alga, 'src', 'index.ts');
    const original = readFileSync(index, 'utf8');
    writeFileSync(index, original.replace('getClient, listClients', 'getClient, listClients, listContacts'));
    try {
      const built = await runCli(['build'], alga);
      assert.equal(built.code, 1);
      assert.match(built.stderr, /src\/index\.ts:2:\d+: TS2305: Module '"alga:extension\/clients"' has no exported member 'listContacts'/);
    } finally {
      writeFileSync(index, original);
    }
  });
});
