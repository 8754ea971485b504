/**
 * The engine behind `@alga-runner/sdk/testing` (exported as `alga-runner/harness`): one built
 * component, a throw-away store (secrets, storage, tenant clients and services), and outbound
 * HTTP answered by the test and recorded — every request runs through the real engine and the
 * real capabilities, as `alga-runner run` does, but the store lives until `close()`.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { Engine } from '../engine/engine.js';
import { openStore } from '../store/index.js';
import { createStoreTenantData } from '../store/tenant-data.js';
import { DEMO_CLIENTS, DEMO_SERVICES } from '../capabilities/demo-data.js';
import { createCapabilityRegistry } from '../capabilities/index.js';
import { effectiveGrants } from '../capabilities/grants.js';
import type { CapabilityName, ExecutionUser } from '../contract/execution.js';
import type { GuardedFetchResult, GuardedRequest, EgressPolicy } from '../net/guarded-fetch.js';
import type { ClientSummary, ServiceSummary } from '../store/tenant-data-model.js';
import type { LogRecord } from '../engine/api.js';
import type {
  FakeResponse,
  RecordedRequest,
  TestClient,
  TestLogRecord,
  TestRequest,
  TestResponse,
  TestRunner,
  TestRunnerOptions,
  TestService,
  TestUser,
} from '../../packages/sdk/src/testing-types.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Every capability this runner serves: the grants of a test without a manifest. */
const ALL_CAPABILITIES: readonly CapabilityName[] = [
  'cap:context.read',
  'cap:secrets.get',
  'cap:http.fetch',
  'cap:storage.kv',
  'cap:log.emit',
  'cap:ui.proxy',
  'cap:user.read',
  'cap:client.read',
  'cap:service.read',
  'cap:scheduler.manage',
  'cap:invoice.manual.create',
];

function bodyBytes(body: string | Uint8Array | object | undefined): { bytes: Uint8Array | undefined; json: boolean } {
  if (body === undefined) return { bytes: undefined, json: false };
  if (body instanceof Uint8Array) return { bytes: body, json: false };
  if (typeof body === 'string') return { bytes: encoder.encode(body), json: false };
  return { bytes: encoder.encode(JSON.stringify(body)), json: true };
}

function lowerCased(headers: readonly { name: string; value: string }[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const h of headers) {
    const name = h.name.toLowerCase();
    out[name] = out[name] === undefined ? h.value : `${out[name]}, ${h.value}`;
  }
  return out;
}

function toClient(c: TestClient): ClientSummary {
  return {
    clientId: c.clientId,
    clientName: c.clientName,
    clientType: c.clientType,
    isInactive: c.isInactive ?? false,
    defaultCurrencyCode: c.defaultCurrencyCode,
    accountManagerId: c.accountManagerId,
    accountManagerName: c.accountManagerName,
    billingEmail: c.billingEmail,
  };
}

function toService(s: TestService): ServiceSummary {
  return {
    serviceId: s.serviceId,
    serviceName: s.serviceName,
    itemKind: s.itemKind ?? 'service',
    billingMethod: s.billingMethod ?? 'fixed',
    serviceTypeId: s.serviceTypeId,
    serviceTypeName: s.serviceTypeName,
    defaultRate: s.defaultRate ?? 0,
    unitOfMeasure: s.unitOfMeasure ?? 'each',
    isActive: s.isActive ?? true,
    sku: s.sku,
  };
}

function toUser(u: TestUser | undefined): ExecutionUser | null {
  if (!u) return null;
  return { userId: u.userId, userEmail: u.userEmail, userName: u.userName, userType: u.userType, clientName: u.clientName, clientId: u.clientId ?? null, additionalFields: u.additionalFields ?? {} };
}

async function readManifestCapabilities(manifest: TestRunnerOptions['manifest']): Promise<string[] | null> {
  if (manifest === undefined) return null;
  const parsed = (typeof manifest === 'string' ? JSON.parse(await readFile(manifest, 'utf8')) : manifest) as { capabilities?: unknown };
  const caps = parsed.capabilities;
  if (caps === undefined) return [];
  if (!Array.isArray(caps) || caps.some((c) => typeof c !== 'string')) throw new Error('manifest: capabilities must be a list of strings');
  return caps as string[];
}

/** The test's answer to one outbound request, or the http-error the real fetch would give. */
async function fakeFetch(request: GuardedRequest, policy: EgressPolicy, restrict: boolean, answer: NonNullable<TestRunnerOptions['http']>, recorded: RecordedRequest[]): Promise<GuardedFetchResult> {
  let url: URL;
  try {
    url = new URL(request.url);
  } catch {
    return { kind: 'err', code: 'invalid-url', reason: `not a URL: ${request.url}` };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return { kind: 'err', code: 'invalid-url', reason: `scheme ${url.protocol} is not http(s)` };
  if (restrict && !policy.allowlist.allows(url)) return { kind: 'err', code: 'not-allowed', reason: `${url.host} is not in the egress allowlist` };
  const body = request.body;
  const entry: RecordedRequest = { method: request.method.toUpperCase(), url: request.url, headers: lowerCased(request.headers), body, text: () => (body ? decoder.decode(body) : '') };
  recorded.push(entry);
  let fake: FakeResponse;
  try {
    fake = await answer(entry);
  } catch (e) {
    return { kind: 'err', code: 'transport', reason: `the test's http answer threw: ${e instanceof Error ? e.message : String(e)}` };
  }
  const { bytes, json } = bodyBytes(fake.body);
  const headers = Object.entries(fake.headers ?? {}).map(([name, value]) => ({ name: name.toLowerCase(), value }));
  if (json && !headers.some((h) => h.name === 'content-type')) headers.push({ name: 'content-type', value: 'application/json' });
  return {
    kind: 'ok',
    response: { status: fake.status ?? 200, headers, body: bytes ?? new Uint8Array(), url: request.url, remoteAddress: '127.0.0.1', redirects: 0, droppedRequestHeaders: [] },
  };
}

export async function startHarness(options: TestRunnerOptions): Promise<TestRunner> {
  const component = typeof options.component === 'string' ? new Uint8Array(await readFile(options.component)) : options.component;
  const manifestCaps = await readManifestCapabilities(options.manifest);
  // as the runner grants an install: what it allows, within what the manifest declares, plus the defaults
  const declared = manifestCaps ?? ALL_CAPABILITIES;
  const grants = effectiveGrants({ install: options.grants ?? declared, manifest: declared });
  const tenant = options.tenant ?? 'demo';
  const extensionId = options.extensionId ?? 'local';
  const recorded: RecordedRequest[] = [];
  const logs: TestLogRecord[] = [];
  const answer = options.http ?? (() => ({ status: 404, body: 'no http answer in this test' }));

  const dir = await mkdtemp(join(tmpdir(), 'alga-runner-test-'));
  const secretsKey = Buffer.from(randomUUID().replace(/-/g, '').repeat(2), 'hex');
  const store = await openStore({ dataDir: dir, secretsKey });
  let engine: Engine | undefined;
  try {
    const tenantData = createStoreTenantData(store.db, store.readOnlyFile, null, { changes: store.changes });
    await tenantData.replaceClients(tenant, options.clients ? options.clients.map(toClient) : DEMO_CLIENTS);
    await tenantData.replaceServices(tenant, options.services ? options.services.map(toService) : DEMO_SERVICES);
    const registry = createCapabilityRegistry({
      store,
      tenantData,
      http: { allowPrivate: false, fetch: (request, policy) => fakeFetch(request, policy, options.egressAllow !== undefined, answer, recorded) },
    });
    // a cache per harness: tests must not share or leave state, and a component transpiles in well under a second
    engine = await Engine.create({ cacheDir: join(dir, 'artifacts'), registry, workers: 1 });
    const prepared = await engine.prepare(component);
    if (prepared.kind === 'err') throw new Error(`the component cannot run: ${prepared.problem.message} [${prepared.problem.code}]`);
    const contentHash = prepared.artifact.contentHash;
    const installId = randomUUID();
    if (options.secrets && Object.keys(options.secrets).length > 0) await store.secrets.putSecrets(installId, options.secrets);
    const config = options.config ?? {};
    const running = engine;

    const request = async (method: string, path: string, init: TestRequest = {}): Promise<TestResponse> => {
      if (!path.startsWith('/')) throw new Error(`a request path must start with '/', got '${path}'`);
      const { bytes, json } = bodyBytes(init.body);
      const headers = Object.entries(init.headers ?? {}).map(([name, value]) => ({ name: name.toLowerCase(), value }));
      if (json && !headers.some((h) => h.name === 'content-type')) headers.push({ name: 'content-type', value: 'application/json' });
      const mine: TestLogRecord[] = [];
      const onLog = (record: LogRecord) => {
        const line = { level: record.level, stream: record.stream, message: record.message };
        mine.push(line);
        logs.push(line);
      };
      const requestId = randomUUID();
      const outcome = await running.execute({
        contentHash,
        ctx: { requestId, tenantId: tenant, extensionId, installId, versionId: null, contentHash, user: toUser(init.user ?? options.user), config },
        install: { installId, tenantId: tenant, extensionId, versionId: null, config, egressAllow: options.egressAllow ?? [], uiProxy: null },
        grants,
        request: { method: method.toUpperCase(), url: path, headers, body: bytes },
        limits: { ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}), ...(options.memoryMb ? { memoryMb: options.memoryMb } : {}) },
        onLog,
      });
      if (outcome.kind === 'fault') {
        const tail = mine.map((l) => `  ${l.level} ${l.message}`).join('\n');
        throw new Error(`${method.toUpperCase()} ${path}: the component failed (${outcome.code}): ${outcome.message}${tail ? `\n${tail}` : ''}`);
      }
      const body = outcome.response.body ?? new Uint8Array();
      return {
        status: outcome.response.status,
        headers: lowerCased(outcome.response.headers),
        body,
        text: () => decoder.decode(body),
        json: <T>() => JSON.parse(decoder.decode(body)) as T,
        logs: mine,
      };
    };

    return {
      request,
      get: (path, init) => request('GET', path, init),
      post: (path, body, init) => request('POST', path, { ...init, body }),
      put: (path, body, init) => request('PUT', path, { ...init, body }),
      delete: (path, init) => request('DELETE', path, init),
      http: { requests: recorded },
      logs,
      installId,
      grants: [...grants],
      close: async () => {
        await running.close();
        await store.close();
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (e) {
    await engine?.close();
    await store.close();
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
}
