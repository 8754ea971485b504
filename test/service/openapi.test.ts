/**
 * The OpenAPI document (src/service/openapi.ts): served at GET /openapi.json without a token,
 * identical to the checked-in docs/openapi.json, and listing every route the app registers.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { OPENAPI_PATH, openApiText } from '../../src/service/openapi.js';
import { repoRoot, startTestService, type TestService } from './harness.js';

const REGENERATE = 'npm run build && node scripts/write-openapi.mjs';

let svc: TestService;
let document: { openapi: string; paths: Record<string, Record<string, unknown>> };

before(async () => {
  svc = await startTestService({ examples: [], workers: 1 });
  const response = await fetch(`${svc.url}${OPENAPI_PATH}`);
  assert.equal(response.status, 200, 'GET /openapi.json needs no token');
  document = (await response.json()) as typeof document;
});
after(() => svc.close());

test('the served document is docs/openapi.json', () => {
  const checkedIn = readFileSync(join(repoRoot, 'docs', 'openapi.json'), 'utf8');
  assert.ok(openApiText(document) === checkedIn, `docs/openapi.json differs from what the service serves at ${OPENAPI_PATH}; regenerate it: ${REGENERATE}`);
});

/**
 * `METHOD /path` of every route in Fastify's router, from `printRoutes()`'s radix tree: each line
 * is one node, indented 4 characters per level; a node's path is its ancestors' segments joined.
 */
function registeredRoutes(tree: string): Set<string> {
  const routes = new Set<string>();
  const stack: string[] = [];
  for (const line of tree.split('\n')) {
    const node = /^(.*?)(?:├── |└── )(.*)$/.exec(line);
    if (!node) continue;
    const depth = node[1]!.length / 4;
    const [, segment = '', methods] = /^(.*?)(?: \(([^)]*)\))?$/.exec(node[2]!)!;
    stack.length = depth;
    stack.push(segment);
    for (const method of methods ? methods.split(', ') : []) routes.add(`${method} ${stack.join('')}`);
  }
  return routes;
}

/** Fastify's `:name` and `*` as OpenAPI path templates, the way @fastify/swagger writes them. */
const asTemplate = (path: string) => path.replace(/:(\w+)/g, '{$1}').replace(/\*$/, '{*}');

test('every route the app registers is in the document, and nothing else', () => {
  const registered = registeredRoutes(svc.running.app.fastify.printRoutes());
  assert.ok(registered.has('POST /v1/execute') && registered.has('GET /api/ext/:extension/*'), `the router listing was read: ${[...registered].join(', ')}`);
  const documented = new Set(Object.entries(document.paths).flatMap(([path, item]) => Object.keys(item).map((method) => `${method.toUpperCase()} ${path}`)));
  // HEAD is Fastify's automatic twin of each GET, left out as @fastify/swagger does; OpenAPI 3.1
  // has no QUERY operation (the dev gateway accepts it and says so in its description)
  const missing = [...registered]
    .filter((r) => !/^(HEAD|QUERY) /.test(r))
    .map((r) => r.replace(/ (.*)$/, (_m, path: string) => ` ${asTemplate(path)}`))
    .filter((r) => !documented.has(r));
  assert.deepEqual(missing, [], `routes missing from the document (give them a schema with documented(), src/service/openapi.ts; then ${REGENERATE})`);
  const templates = new Set([...registered].map((r) => r.replace(/ (.*)$/, (_m, path: string) => ` ${asTemplate(path)}`)));
  assert.deepEqual(
    [...documented].filter((d) => !templates.has(d)),
    [],
    'documented routes the app does not register',
  );
});

test('every operation has a summary, a tag and its answer', () => {
  for (const [path, item] of Object.entries(document.paths)) {
    for (const [method, operation] of Object.entries(item) as [string, { summary?: string; tags?: string[]; responses?: Record<string, unknown> }][]) {
      assert.ok(operation.summary, `${method} ${path} has a summary`);
      assert.ok(operation.tags?.length, `${method} ${path} has a tag`);
      assert.ok(operation.responses && Object.keys(operation.responses).some((s) => /^[2d]/.test(s)), `${method} ${path} documents its answer`);
    }
  }
  assert.equal(document.openapi, '3.1.0');
});
