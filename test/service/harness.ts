/**
 * A real runner service for black-box tests: `startService` on 127.0.0.1, port 0, a temp data dir,
 * its pino log captured in memory; plus small HTTP clients for the execute and admin APIs.
 *
 * Transpiling the kitchen-sink component takes ~8 s, so prepared artifacts are kept in
 * .cache/test-service-artifacts and copied into each service's data dir before it starts: the
 * upload then finds the artifact prepared, as it would after a restart.
 */
import { copyFileSync, cpSync, existsSync, linkSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { ArtifactStore } from '../../src/engine/artifact-store.js';
import { contentHashOf } from '../../src/bundle/content-hash.js';
import { loadConfig } from '../../src/service/config.js';
import { startService, type RunningService } from '../../src/service/server.js';
import type { RuntimeSeams } from '../../src/service/runtime.js';

export const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const sharedArtifacts = join(repoRoot, '.cache', 'test-service-artifacts');
export const SECRETS_KEY = Buffer.alloc(32, 9).toString('base64');

export function exampleBytes(name: string): Buffer {
  return readFileSync(join(repoRoot, '.cache', 'examples', `${name}.wasm`));
}

/** Prepares the example once per machine (shared cache) and copies its artifact into `dataDir`. */
export async function seedArtifacts(dataDir: string, names: readonly string[]): Promise<void> {
  for (const name of names) {
    const bytes = exampleBytes(name);
    const hex = contentHashOf(bytes).slice('sha256:'.length);
    const shared = join(sharedArtifacts, hex);
    const store = new ArtifactStore(sharedArtifacts);
    if (!(await store.load(`sha256:${hex}`))) {
      // prepare in a private root, then move the finished directory in: a parallel test file
      // doing the same either wins the rename or finds the directory already there
      const scratch = mkdtempSync(join(tmpdir(), 'artifact-seed-'));
      const prepared = await new ArtifactStore(scratch).prepare(bytes);
      if (prepared.kind !== 'ok') throw new Error(`example ${name} does not prepare: ${prepared.problem.message}`);
      mkdirSync(sharedArtifacts, { recursive: true });
      // the shared parts first: an artifact in the shared root is usable once its shape and code are there
      linkTree(join(scratch, 'shapes'), join(sharedArtifacts, 'shapes'));
      linkTree(join(scratch, 'code'), join(sharedArtifacts, 'code'));
      // a directory left by an older artifact format is replaced
      if (existsSync(shared) && !(await store.load(`sha256:${hex}`))) rmSync(shared, { recursive: true, force: true });
      try {
        renameSync(prepared.artifact.dir, shared);
      } catch (e) {
        if (!(await store.load(`sha256:${hex}`))) throw e;
      }
      rmSync(scratch, { recursive: true, force: true });
    }
    cpSync(shared, join(dataDir, 'artifacts', hex), { recursive: true });
    // what the artifact shares with others: its shape (glue) and the code of its modules; files
    // there never change once written, so links do
    linkTree(join(sharedArtifacts, 'shapes'), join(dataDir, 'artifacts', 'shapes'));
    linkTree(join(sharedArtifacts, 'code'), join(dataDir, 'artifacts', 'code'));
  }
}

/** Hard-links every file under `from` into `to` (copies where a link cannot be made), keeping what is there. */
function linkTree(from: string, to: string): void {
  if (!existsSync(from)) return;
  for (const entry of readdirSync(from, { withFileTypes: true })) {
    const source = join(from, entry.name);
    const target = join(to, entry.name);
    if (entry.name.includes('.tmp-')) continue;
    if (entry.isDirectory()) linkTree(source, target);
    else if (!existsSync(target)) {
      mkdirSync(to, { recursive: true });
      try {
        linkSync(source, target);
      } catch {
        copyFileSync(source, target);
      }
    }
  }
}

export interface TestService {
  url: string;
  serviceToken: string;
  adminToken: string;
  dataDir: string;
  running: RunningService;
  /** everything the service logged so far (pino NDJSON) */
  logText(): string;
  /** resolves with the first log line (parsed) for which `match` is true, including past lines */
  logLine(match: (line: Record<string, unknown>) => boolean): Promise<Record<string, unknown>>;
  close(): Promise<void>;
}

export interface TestServiceOptions {
  /** environment for loadConfig (merged over the defaults below) */
  env?: Record<string, string>;
  workers?: number;
  /** examples whose artifacts are seeded into the data dir */
  examples?: readonly string[];
  dataDir?: string;
  /** stand-ins for the store's parts (startService's seams, as the stores benchmark uses them) */
  seams?: RuntimeSeams;
}

export async function startTestService(options: TestServiceOptions = {}): Promise<TestService> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'svc-test-'));
  await seedArtifacts(dataDir, options.examples ?? ['kitchen-sink']);
  const env = { RUNNER_SECRETS_KEY: SECRETS_KEY, LOG_LEVEL: 'debug', RUNNER_EGRESS_ALLOW_PRIVATE: '1', ...options.env };
  const config = loadConfig({ port: '0', host: '127.0.0.1', dataDir, workers: String(options.workers ?? 2) }, env);
  const lines: string[] = [];
  const waiters: { match: (l: Record<string, unknown>) => boolean; resolve: (l: Record<string, unknown>) => void }[] = [];
  let partial = '';
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      partial += chunk.toString('utf8');
      let nl: number;
      while ((nl = partial.indexOf('\n')) >= 0) {
        const line = partial.slice(0, nl);
        partial = partial.slice(nl + 1);
        lines.push(line);
        const parsed = JSON.parse(line) as Record<string, unknown>;
        for (const w of [...waiters]) {
          if (w.match(parsed)) {
            waiters.splice(waiters.indexOf(w), 1);
            w.resolve(parsed);
          }
        }
      }
      done();
    },
  });
  const running = await startService(config, { logDestination: destination, ...(options.seams && { seams: options.seams }) });
  return {
    url: running.url,
    serviceToken: running.serviceToken,
    adminToken: running.adminToken,
    dataDir,
    running,
    logText: () => lines.join('\n'),
    logLine(match) {
      for (const line of lines) {
        const parsed = JSON.parse(line) as Record<string, unknown>;
        if (match(parsed)) return Promise.resolve(parsed);
      }
      return new Promise((resolve) => waiters.push({ match, resolve }));
    },
    async close() {
      await running.close();
      if (!options.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export interface JsonResponse<T = Record<string, unknown>> {
  status: number;
  headers: Headers;
  json: T;
}

async function asJson<T>(response: Response): Promise<JsonResponse<T>> {
  const text = await response.text();
  return { status: response.status, headers: response.headers, json: (text ? JSON.parse(text) : null) as T };
}

export interface ErrorBody {
  error: { code: string; message: string; problems?: { path: string; message: string }[]; [k: string]: unknown };
}

export interface Answer {
  status: number;
  headers: Record<string, string>;
  body_b64?: string;
  error?: string;
  message?: string;
}

/** The guest's response body of an execute answer, parsed as JSON. */
export function guestJson<T = Record<string, unknown>>(answer: Answer): T {
  if (answer.body_b64 === undefined) throw new Error(`the answer has no body: ${JSON.stringify(answer)}`);
  return JSON.parse(Buffer.from(answer.body_b64, 'base64').toString('utf8')) as T;
}

export interface ExecuteOptions {
  tenant?: string;
  extension?: string;
  method?: string;
  query?: Record<string, string>;
  body?: unknown;
  /** merged over the envelope built from the options above */
  envelope?: Record<string, unknown>;
  headers?: Record<string, string>;
  idempotencyKey?: string;
  token?: string | null;
}

export function envelopeFor(path: string, o: ExecuteOptions = {}): Record<string, unknown> {
  const tenant = o.tenant ?? 'tenant-a';
  const body = o.body === undefined ? undefined : Buffer.from(typeof o.body === 'string' ? o.body : JSON.stringify(o.body)).toString('base64');
  return {
    context: { tenant_id: tenant, extension_id: o.extension ?? 'kitchen-sink' },
    http: { method: o.method ?? (body ? 'POST' : 'GET'), path, query: o.query ?? {}, headers: body ? { 'content-type': 'application/json' } : {}, ...(body && { body_b64: body }) },
    ...o.envelope,
  };
}

/** POST /v1/execute with the service token and a matching tenant header. */
export async function execute<T = Answer>(svc: Pick<TestService, 'url' | 'serviceToken'>, path: string, o: ExecuteOptions = {}): Promise<JsonResponse<T>> {
  const envelope = envelopeFor(path, o);
  const tenant = (envelope.context as { tenant_id: string }).tenant_id;
  const headers: Record<string, string> = { 'content-type': 'application/json', 'x-alga-tenant': tenant };
  if (o.token !== null) headers['x-runner-service-token'] = o.token ?? svc.serviceToken;
  if (o.idempotencyKey) headers['x-idempotency-key'] = o.idempotencyKey;
  return asJson<T>(await fetch(`${svc.url}/v1/execute`, { method: 'POST', headers: { ...headers, ...o.headers }, body: JSON.stringify(envelope) }));
}

/** An admin API call with the admin token; `body` is sent as JSON unless it is bytes. */
export async function admin<T = Record<string, unknown>>(
  svc: Pick<TestService, 'url' | 'adminToken'>,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<JsonResponse<T>> {
  const isBytes = body instanceof Uint8Array;
  const init: RequestInit & { body?: string | Uint8Array<ArrayBuffer> } = {
    method,
    headers: { authorization: `Bearer ${svc.adminToken}`, ...(body !== undefined && { 'content-type': isBytes ? 'application/wasm' : 'application/json' }), ...headers },
  };
  if (body !== undefined) init.body = isBytes ? new Uint8Array(body) : JSON.stringify(body);
  return asJson<T>(await fetch(`${svc.url}${path}`, init));
}

export interface Registered {
  extension_id: string;
  version_id: string;
  content_hash: string;
}

/** Uploads a built example as a bare component; fails the test unless it is registered. */
export async function uploadExample(
  svc: Pick<TestService, 'url' | 'adminToken'>,
  example: string,
  q: { name: string; version?: string; capabilities?: readonly string[]; endpoints?: readonly string[] },
): Promise<Registered> {
  const params = new URLSearchParams({ name: q.name, version: q.version ?? '1.0.0' });
  if (q.capabilities) params.set('capabilities', q.capabilities.join(','));
  if (q.endpoints) params.set('endpoints', q.endpoints.join(','));
  const r = await admin<Registered>(svc, 'POST', `/admin/v1/extensions?${params}`, new Uint8Array(exampleBytes(example)));
  if (r.status !== 201 && r.status !== 200) throw new Error(`upload of ${example} failed: ${r.status} ${JSON.stringify(r.json)}`);
  return r.json;
}

export async function createInstall(svc: Pick<TestService, 'url' | 'adminToken'>, body: Record<string, unknown>): Promise<string> {
  const r = await admin<{ install_id: string }>(svc, 'POST', '/admin/v1/installs', body);
  if (r.status !== 201) throw new Error(`install failed: ${r.status} ${JSON.stringify(r.json)}`);
  return r.json.install_id;
}

/** The sum of the `/metrics` series called `name` whose labels include `labels` (0 when none). */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{([^}]*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = new Set((m[2] ?? '').split(',').filter(Boolean));
    if (Object.entries(labels).every(([k, v]) => have.has(`${k}="${v}"`))) sum += Number(m[3]);
  }
  return sum;
}

export async function metricsText(svc: Pick<TestService, 'url'>): Promise<string> {
  const r = await fetch(`${svc.url}/metrics`);
  return r.text();
}
