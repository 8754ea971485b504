/**
 * The runner service under test, as an operator runs it: `alga-runner serve` in its own process on
 * an embedded SQLite data directory, set up through the admin API only (upload, install, secret).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { repoRoot } from './guests.js';

const START_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 15_000;
/** Linux's USER_HZ: the unit of utime/stime in /proc/<pid>/stat. */
const CLOCK_TICKS_PER_SECOND = 100;

/** Backpressure must not shape the 32-client runs: admission lets all of them in at once. */
export const TENANT_CONCURRENCY = 64;

export interface RunnerService {
  url: string;
  serviceToken: string;
  adminToken: string;
  /** the exact command line, for the report */
  command: string;
  /** user + system CPU seconds the service process (all its threads) has used so far; null off Linux */
  cpuSeconds(): number | null;
  /** resident set size of the service process (bytes); null off Linux */
  rssBytes(): number | null;
  stop(): Promise<void>;
}

export interface StartRunnerOptions {
  dataDir: string;
  workers: number;
  /** where the service's pino log (stdout) goes */
  logFile: string;
  /** environment over the benchmark's own settings (e.g. the production default admission) */
  env?: Record<string, string>;
  /** `memory`: the same service on in-memory capabilities and log records (memory-service.ts) instead of `alga-runner serve` */
  entry?: 'serve' | 'memory';
  /** another checkout of the runner whose `bin/alga-runner.js` to start (default: this one) */
  root?: string;
}

/** Environment the bench must not inherit: it would point the service at another store or setup. */
const INHERITED_OUT = [
  'DATABASE_URL',
  'RUNNER_DATABASE_SCHEMA',
  'RUNNER_TENANT_DATA_URL',
  'RUNNER_TENANT_DATA_TOKEN',
  'RUNNER_REQUIRE_SIGNATURES',
  'RUNNER_TRUST_FILE',
  'PORT',
  'HOST',
  'RUNNER_WORKERS',
  'RUNNER_DATA_DIR',
];

export async function startRunnerService(options: StartRunnerOptions): Promise<RunnerService> {
  const serviceToken = randomBytes(24).toString('base64url');
  const adminToken = randomBytes(24).toString('base64url');
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of INHERITED_OUT) delete env[name];
  Object.assign(env, {
    RUNNER_SERVICE_TOKEN: serviceToken,
    RUNNER_ADMIN_TOKEN: adminToken,
    RUNNER_SECRETS_KEY: randomBytes(32).toString('base64'),
    RUNNER_TENANT_CONCURRENCY: String(TENANT_CONCURRENCY),
    RUNNER_TENANT_QUEUE: String(TENANT_CONCURRENCY),
    // the production default: Fastify's two lines per request, and the guest's records, are logged
    LOG_LEVEL: 'info',
    ...options.env,
  });
  const guard = new URL('./service-guard.js', import.meta.url).href;
  const program = options.entry === 'memory' ? [fileURLToPath(new URL('./memory-service.js', import.meta.url))] : [join(options.root ?? repoRoot, 'bin', 'alga-runner.js'), 'serve'];
  const args = ['--import', guard, ...program, '--host', '127.0.0.1', '--port', '0', '--data-dir', options.dataDir, '--workers', String(options.workers)];
  const logFd = openSync(options.logFile, 'a');
  let child: ChildProcess;
  try {
    // stdin stays open as the guard's lifeline; stdout (the JSON log) goes to a file, as in production
    child = spawn(process.execPath, args, { env, stdio: ['pipe', logFd, 'pipe'] });
  } finally {
    closeSync(logFd);
  }
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')));
  const recentStderr: string[] = [];
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the service did not print its URL within ${START_TIMEOUT_MS / 1000} s`)), START_TIMEOUT_MS);
    createInterface({ input: child.stderr! }).on('line', (line) => {
      recentStderr.push(line);
      if (recentStderr.length > 20) recentStderr.shift();
      const m = /alga-runner listening on (\S+)/.exec(line);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    void exited.then((how) => {
      clearTimeout(timer);
      reject(new Error(`the service exited (${how}) before listening:\n${recentStderr.join('\n')}\n${tail(options.logFile)}`));
    });
  }).catch((e: unknown) => {
    child.kill('SIGKILL');
    throw e;
  });
  const pid = child.pid!;
  return {
    url,
    serviceToken,
    adminToken,
    command: `${Object.entries({ RUNNER_TENANT_CONCURRENCY: String(TENANT_CONCURRENCY), RUNNER_TENANT_QUEUE: String(TENANT_CONCURRENCY), LOG_LEVEL: 'info', ...options.env })
      .map(([k, v]) => `${k}=${v}`)
      .join(
        ' ',
      )} node ${options.entry === 'memory' ? 'dist/bench/memory-service.js' : 'bin/alga-runner.js serve'} --host 127.0.0.1 --port 0 --data-dir <tmp> --workers ${options.workers} (tokens and secrets key set; bench/service-guard preloaded; log to a file)`,
    cpuSeconds: () => processCpuSeconds(pid),
    rssBytes: () => processRssBytes(pid),
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
      await exited;
      clearTimeout(timer);
    },
  };
}

function tail(path: string): string {
  if (!existsSync(path)) return '';
  return readFileSync(path, 'utf8').split('\n').slice(-20).join('\n');
}

/** utime + stime of a whole process (all threads) from /proc/<pid>/stat. */
function processCpuSeconds(pid: number): number | null {
  const path = `/proc/${pid}/stat`;
  if (!existsSync(path)) return null;
  // the command name (field 2) may contain spaces: count fields after its closing parenthesis
  const stat = readFileSync(path, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return Number.isFinite(utime) && Number.isFinite(stime) ? (utime + stime) / CLOCK_TICKS_PER_SECOND : null;
}

function processRssBytes(pid: number): number | null {
  const path = `/proc/${pid}/status`;
  if (!existsSync(path)) return null;
  const kb = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(path, 'utf8'));
  return kb ? Number(kb[1]) * 1024 : null;
}

/** The ids the execute envelope names, as the admin API returned them. */
export interface BenchInstall {
  tenantId: string;
  extensionId: string;
  versionId: string;
  contentHash: string;
  installId: string;
}

export const SERVICE_TENANT = 'tenant-bench';
/** the same grants as the engine-level reference (engine-runtime.ts) */
const GRANTS = ['cap:context.read', 'cap:log.emit', 'cap:storage.kv', 'cap:secrets.get', 'cap:user.read', 'cap:client.read', 'cap:service.read'];

export async function admin(service: RunnerService, method: string, path: string, body: Uint8Array | object, contentType = 'application/json'): Promise<unknown> {
  const response = await fetch(`${service.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${service.adminToken}`, 'content-type': contentType },
    // a copy: fetch's types want bytes over a plain ArrayBuffer
    body: body instanceof Uint8Array ? new Uint8Array(body) : JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

/** Upload the kitchen-sink component, install it for the bench tenant, store the secret `/seven` reads. */
export async function installKitchenSink(service: RunnerService, component: Uint8Array): Promise<BenchInstall> {
  const query = new URLSearchParams({ name: 'kitchen-sink', version: '0.1.0', capabilities: GRANTS.join(',') });
  const version = (await admin(service, 'POST', `/admin/v1/extensions?${query}`, component, 'application/wasm')) as { extension_id: string; version_id: string; content_hash: string };
  const install = (await admin(service, 'POST', '/admin/v1/installs', { tenant_id: SERVICE_TENANT, extension_id: version.extension_id, version_id: version.version_id, grants: GRANTS })) as {
    install_id: string;
  };
  await admin(service, 'PUT', `/admin/v1/installs/${install.install_id}/secrets`, { values: { bench: 'bench-secret' } });
  return { tenantId: SERVICE_TENANT, extensionId: version.extension_id, versionId: version.version_id, contentHash: version.content_hash, installId: install.install_id };
}

/** A `POST /v1/execute` request as Alga's gateway sends it (src/service/envelope.ts), for one guest route. */
export function executeRequest(service: RunnerService, install: BenchInstall, path: string): { headers: Record<string, string>; body: string } {
  return {
    headers: {
      'content-type': 'application/json',
      authorization: `Bearer ${service.serviceToken}`,
      'x-alga-tenant': install.tenantId,
      'x-alga-extension': install.extensionId,
    },
    body: JSON.stringify({
      context: { tenant_id: install.tenantId, extension_id: install.extensionId, install_id: install.installId, version_id: install.versionId, content_hash: install.contentHash, config: {} },
      http: { method: 'GET', path, url: `https://psa.example.test/api/ext/kitchen-sink${path}`, query: {}, headers: { accept: 'application/json' } },
      user: { user_id: 'user-1', user_email: 'user@example.test', user_name: 'Bench User', user_type: 'internal', client_name: 'Bench Client', client_id: 'client-1' },
    }),
  };
}
