/**
 * Property-based fuzzing of the service's HTTP surface with fast-check, on a fixed seed and budget
 * so a run is repeatable: execute envelopes (valid ones with fields replaced, removed or retyped,
 * and arbitrary JSON), admin requests (every route, mutated bodies, wrong content types, random
 * bytes as uploads) and dev-gateway requests. For every request: an answer within the bound (no
 * hang), never a 5xx, every refusal a JSON error whose code is in the catalog with its status,
 * every guest fault a documented fault code; afterwards the service still serves.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { ERROR_CATALOG } from '../../src/service/errors.js';
import { createInstall, repoRoot, startTestService, uploadExample, type TestService } from './harness.js';

const SEED = 20261207;
const RUNS = Number(process.env.FUZZ_RUNS ?? 250);
/** Far above any answer here (guest deadlines are capped at 2 s below): reaching it is a hang. */
const ANSWER_WITHIN_MS = 20_000;

/** The guest fault codes docs/errors.md documents (its "Guest faults" table). */
const FAULT_CODES = new Set(
  [
    ...readFileSync(join(repoRoot, 'docs', 'errors.md'), 'utf8')
      .split('## Guest faults')[1]!
      .matchAll(/^\| `([a-z_]+)` \|/gm),
  ].map((m) => m[1]!),
);

let svc: TestService;
let installId: string;
/** What the fuzz reached, reported at the end: a fuzz that only ever hits one refusal tests little. */
const reached = new Map<string, number>();
const tally = (key: string) => reached.set(key, (reached.get(key) ?? 0) + 1);

before(async () => {
  svc = await startTestService({ examples: ['kitchen-sink'], env: { RUNNER_DEV_TENANT: 'fuzz' } });
  await uploadExample(svc, 'kitchen-sink', { name: 'kitchen-sink', capabilities: ['cap:storage.kv', 'cap:log.emit'] });
  installId = await createInstall(svc, { tenant_id: 'fuzz', extension_id: 'kitchen-sink' });
});
after(async () => svc?.close());

interface Sent {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string | Uint8Array<ArrayBuffer>;
}

/** Sends one request; checks the properties every answer must have. */
async function check(req: Sent): Promise<void> {
  const res = await fetch(`${svc.url}${req.path}`, {
    method: req.method,
    headers: req.headers,
    body: req.method === 'GET' || req.method === 'HEAD' ? undefined : req.body,
    signal: AbortSignal.timeout(ANSWER_WITHIN_MS),
  });
  const text = await res.text();
  const where = `${req.method} ${req.path} → ${res.status} ${text.slice(0, 300)}`;
  tally(`${req.path === '/v1/execute' ? 'execute' : 'admin'} ${res.status}${req.path === '/v1/execute' && res.status === 200 ? ` guest ${(JSON.parse(text) as { status: number }).status}` : ''}`);
  assert.ok(res.status < 500, `a 5xx: ${where}`);
  if (req.method === 'HEAD' || res.status === 204 || res.status === 304) return;
  if (res.status >= 400) {
    const parsed = JSON.parse(text) as { error?: { code?: string } };
    const code = parsed.error?.code;
    assert.ok(code && code in ERROR_CATALOG, `a refusal outside the catalog: ${where}`);
    assert.equal(res.status, ERROR_CATALOG[code as keyof typeof ERROR_CATALOG].status, `status of ${code}: ${where}`);
    return;
  }
  if (req.path === '/v1/execute') {
    const answer = JSON.parse(text) as { status?: unknown; error?: unknown };
    assert.equal(typeof answer.status, 'number', where);
    if (answer.error !== undefined) assert.ok(FAULT_CODES.has(String(answer.error)), `an undocumented fault: ${where}`);
  }
}

// ---------------------------------------------------------------------------------------------
// execute envelopes

const GUEST_PATHS = ['/noop', '/echo', '/context', '/counter', '/kv/get?ns=a&key=b', '/log?msg=x', '/throw', '/no-such-route'];

const jsonValue = fc.jsonValue({ maxDepth: 3 });

/** `usual` nine times in ten, else one of the others: most requests get past authentication and parsing. */
function mostly<T>(usual: T, ...others: T[]): fc.Arbitrary<T> {
  return fc.oneof({ weight: 9 * others.length, arbitrary: fc.constant(usual) }, ...others.map((o) => ({ weight: 1, arbitrary: fc.constant(o) })));
}

/** A valid envelope for the fuzz tenant, with small guest deadlines so a run stays quick. */
const validEnvelope = fc.record({
  context: fc.record({
    request_id: fc.option(fc.string(), { nil: undefined }),
    tenant_id: fc.constant('fuzz'),
    extension_id: fc.constantFrom('kitchen-sink'),
    install_id: fc.option(fc.constant('__install__'), { nil: undefined }),
    config: fc.option(fc.dictionary(fc.string(), fc.string()), { nil: undefined }),
  }),
  http: fc.record({
    method: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH'),
    path: fc.constantFrom(...GUEST_PATHS),
    query: fc.option(fc.dictionary(fc.string(), fc.string()), { nil: undefined }),
    headers: fc.option(fc.dictionary(fc.string(), fc.string()), { nil: undefined }),
    body_b64: fc.option(fc.base64String(), { nil: undefined }),
  }),
  limits: fc.option(fc.record({ timeout_ms: fc.integer({ min: 1, max: 2000 }) }), { nil: undefined }),
  providers: fc.option(fc.subarray(['cap:storage.kv', 'cap:log.emit', 'cap:context.read', 'cap:nope']), { nil: undefined }),
});

const ENVELOPE_PATHS = [
  ['context'],
  ['context', 'tenant_id'],
  ['context', 'extension_id'],
  ['context', 'install_id'],
  ['context', 'content_hash'],
  ['context', 'config'],
  ['http'],
  ['http', 'method'],
  ['http', 'path'],
  ['http', 'url'],
  ['http', 'query'],
  ['http', 'headers'],
  ['http', 'body_b64'],
  ['limits'],
  ['limits', 'timeout_ms'],
  ['limits', 'memory_mb'],
  ['providers'],
  ['user'],
  ['user', 'user_id'],
] as const;

/** A valid envelope with one field replaced by arbitrary JSON (or removed: undefined). */
const mutatedEnvelope = fc.tuple(validEnvelope, fc.constantFrom(...ENVELOPE_PATHS), fc.option(jsonValue, { nil: undefined })).map(([envelope, path, value]) => {
  const copy = JSON.parse(JSON.stringify(envelope)) as Record<string, unknown>;
  let at: Record<string, unknown> = copy;
  for (const key of path.slice(0, -1)) {
    if (typeof at[key] !== 'object' || at[key] === null) at[key] = {};
    at = at[key] as Record<string, unknown>;
  }
  at[path[path.length - 1]!] = value;
  return copy;
});

const executeRequest = fc
  .record({
    body: fc.oneof(
      { weight: 6, arbitrary: validEnvelope.map((e) => JSON.stringify(e)) },
      { weight: 6, arbitrary: mutatedEnvelope.map((e) => JSON.stringify(e)) },
      { weight: 1, arbitrary: jsonValue.map((v) => JSON.stringify(v)) },
      { weight: 1, arbitrary: fc.string() },
    ),
    tenantHeader: mostly('fuzz', 'other', undefined),
    token: mostly('valid', 'wrong', 'missing'),
    contentType: mostly('application/json', 'application/json; charset=utf-8', 'text/plain', undefined),
    idempotencyKey: fc.oneof({ weight: 7, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.string({ maxLength: 240 }) }),
  })
  .map(({ body, tenantHeader, token, contentType, idempotencyKey }): Sent => {
    const headers: Record<string, string> = {};
    if (contentType) headers['content-type'] = contentType;
    if (tenantHeader) headers['x-alga-tenant'] = tenantHeader;
    if (token !== 'missing') headers['x-runner-service-token'] = token === 'valid' ? svc.serviceToken : 'not-the-token-at-all';
    if (idempotencyKey !== undefined && /^[\x21-\x7e]*$/.test(idempotencyKey)) headers['x-idempotency-key'] = idempotencyKey;
    return { method: 'POST', path: '/v1/execute', headers, body: body.replaceAll('__install__', installId) };
  });

test('fuzz: POST /v1/execute never answers 5xx, never hangs, and answers only with catalog codes and documented faults', async () => {
  await fc.assert(fc.asyncProperty(executeRequest, check), { seed: SEED, numRuns: RUNS, endOnFailure: true });
});

// ---------------------------------------------------------------------------------------------
// admin API

const ADMIN_ROUTES: [string, string][] = [
  ['GET', '/admin/v1/installs'],
  ['GET', '/admin/v1/installs?tenant_id=fuzz'],
  ['GET', '/admin/v1/extensions'],
  ['POST', '/admin/v1/installs'],
  ['POST', '/admin/v1/extensions'],
  ['POST', '/admin/v1/extensions?name=fuzzed&version=1.0.0'],
  ['GET', '/admin/v1/installs/__install__'],
  ['PATCH', '/admin/v1/installs/__install__'],
  ['PUT', '/admin/v1/installs/__install__/secrets'],
  ['GET', '/admin/v1/installs/__install__/logs?limit=5'],
  ['GET', '/admin/v1/installs/no-such-install'],
  ['PATCH', '/admin/v1/installs/no-such-install'],
  ['DELETE', '/admin/v1/installs/no-such-install'],
  ['PUT', '/admin/v1/tenants/fuzz/clients'],
  ['PUT', '/admin/v1/tenants/fuzz/services'],
  ['POST', '/admin/v1/no-such-route'],
];

/** Bodies near what the routes take, with fields of the wrong type, unknown fields and junk. */
const adminBody = fc.oneof(
  fc.record({
    tenant_id: fc.oneof(fc.constant('fuzz-admin'), jsonValue),
    extension_id: fc.oneof(fc.constant('kitchen-sink'), jsonValue),
    grants: fc.option(fc.oneof(fc.subarray(['cap:storage.kv', 'cap:log.emit', 'cap:root']), jsonValue), { nil: undefined }),
    config: fc.option(jsonValue, { nil: undefined }),
    egress: fc.option(fc.oneof(fc.record({ allow: fc.array(fc.string()) }), jsonValue), { nil: undefined }),
    limits: fc.option(fc.oneof(fc.record({ timeout_ms: fc.integer(), memory_mb: fc.integer() }), jsonValue), { nil: undefined }),
    enabled: fc.option(fc.oneof(fc.boolean(), jsonValue), { nil: undefined }),
    values: fc.option(fc.oneof(fc.dictionary(fc.string(), fc.string()), jsonValue), { nil: undefined }),
    items: fc.option(fc.oneof(fc.array(fc.record({ client_id: fc.string(), client_name: jsonValue })), jsonValue), { nil: undefined }),
  }),
  jsonValue,
);

const adminRequest = fc
  .record({
    route: fc.constantFrom(...ADMIN_ROUTES),
    body: fc.oneof(
      { weight: 4, arbitrary: adminBody.map((b) => JSON.stringify(b)) },
      { weight: 1, arbitrary: fc.uint8Array({ maxLength: 2048 }).map((b) => new Uint8Array(b)) },
      { weight: 1, arbitrary: fc.string() },
    ),
    contentType: fc.constantFrom('application/json', 'application/wasm', 'application/zstd', 'application/octet-stream', undefined),
    token: mostly('valid', 'service', 'missing'),
  })
  .map(({ route: [method, path], body, contentType, token }): Sent => {
    const headers: Record<string, string> = {};
    if (contentType) headers['content-type'] = contentType;
    if (token === 'valid') headers['authorization'] = `Bearer ${svc.adminToken}`;
    if (token === 'service') headers['authorization'] = `Bearer ${svc.serviceToken}`;
    // an install created by the fuzz must not change the one the execute fuzz uses
    return { method, path: path.replace('__install__', installId), headers, body };
  });

test('fuzz: the admin API never answers 5xx, never hangs, and refuses only with catalog codes', async () => {
  await fc.assert(fc.asyncProperty(adminRequest, check), { seed: SEED, numRuns: RUNS, endOnFailure: true });
});

// ---------------------------------------------------------------------------------------------
// dev gateway

const gatewayRequest = fc
  .record({
    method: fc.constantFrom('GET', 'POST', 'DELETE', 'OPTIONS', 'HEAD'),
    extension: fc.constantFrom('kitchen-sink', 'no-such-extension', '%2e%2e', ''),
    path: fc.oneof(fc.constantFrom(...GUEST_PATHS.map((p) => p.slice(1))), fc.webPath()),
    headers: fc.dictionary(fc.constantFrom('x-user-id', 'x-user-email', 'x-alga-tenant', 'accept', 'x-foo'), fc.string({ unit: 'grapheme-ascii' })),
    contentType: mostly('application/json', 'text/plain', 'application/octet-stream'),
    body: fc.string(),
  })
  .map(({ method, extension, path, headers, contentType, body }): Sent => {
    const clean: Record<string, string> = { 'content-type': contentType };
    for (const [k, v] of Object.entries(headers)) if (/^[\x20-\x7e]*$/.test(v)) clean[k] = v;
    return { method, path: `/api/ext/${extension}/${path.replace(/^\//, '')}`, headers: clean, body };
  });

test('fuzz: the dev gateway never answers 5xx outside its guest-fault mapping and never hangs', async () => {
  await fc.assert(
    fc.asyncProperty(gatewayRequest, async (req) => {
      const res = await fetch(`${svc.url}${req.path}`, {
        method: req.method,
        headers: { ...req.headers, authorization: `Bearer ${svc.serviceToken}`, 'x-runner-service-token': svc.serviceToken },
        body: req.method === 'GET' || req.method === 'HEAD' ? undefined : req.body,
        signal: AbortSignal.timeout(ANSWER_WITHIN_MS),
      });
      const text = await res.text();
      const where = `${req.method} ${req.path} → ${res.status} ${text.slice(0, 300)}`;
      if (res.status >= 500) {
        // a guest fault: 502 or 504 with a documented fault code
        assert.ok(res.status === 502 || res.status === 504, `a 5xx that is no guest fault: ${where}`);
        const code = (JSON.parse(text) as { error?: { code?: string } }).error?.code;
        assert.ok(code && (FAULT_CODES.has(code) || code in ERROR_CATALOG), `an undocumented code: ${where}`);
      } else if (res.status >= 400 && req.method !== 'HEAD') {
        // the guest's own answers pass through as they are (the kitchen-sink's 404 is {error: "not_found", path});
        // the runner's refusals are {error: {code, message}} with a catalog code
        const error = (JSON.parse(text) as { error?: unknown }).error;
        if (typeof error === 'object' && error !== null) {
          const code = (error as { code?: string }).code;
          assert.ok(code && code in ERROR_CATALOG, `a refusal outside the catalog: ${where}`);
        } else assert.equal(typeof error, 'string', `neither a guest answer nor a refusal: ${where}`);
      }
      tally(`gateway ${res.status}`);
    }),
    { seed: SEED, numRuns: RUNS, endOnFailure: true },
  );
});

test('after the fuzzing the service still serves', async (t) => {
  t.diagnostic(`answers: ${JSON.stringify(Object.fromEntries([...reached].sort()))}`);
  // the fuzz must reach the guest, not only the schema's refusals
  assert.ok([...reached].filter(([k]) => k.startsWith('execute 200 guest')).reduce((sum, [, n]) => sum + n, 0) > RUNS / 10, 'too few envelopes reached the guest');
  const health = await fetch(`${svc.url}/healthz`);
  assert.equal(health.status, 200);
  const res = await fetch(`${svc.url}/v1/execute`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-alga-tenant': 'fuzz', 'x-runner-service-token': svc.serviceToken },
    body: JSON.stringify({ context: { tenant_id: 'fuzz', extension_id: 'kitchen-sink', install_id: installId }, http: { method: 'GET', path: '/noop' } }),
  });
  assert.equal(res.status, 200);
  assert.equal(((await res.json()) as { status: number }).status, 200);
});
