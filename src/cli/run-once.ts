/** The work behind `alga-runner run`: prepare a component (or bundle), execute one request, report. */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { Engine } from '../engine/engine.js';
import { openStore } from '../store/index.js';
import { createStoreTenantData } from '../store/tenant-data.js';
import { seedDemoTenantData } from '../capabilities/demo-data.js';
import { createCapabilityRegistry } from '../capabilities/index.js';
import { effectiveGrants } from '../capabilities/grants.js';
import { binaryKind } from '../engine/wasm-binary.js';
import { readBundle, formatManifestProblems } from '../bundle/index.js';
import { responseJson } from './response-json.js';
import { checkGuestResponse } from '../service/guest-response.js';

export interface RunOnceOptions {
  method: string;
  path: string;
  header: string[];
  body?: string;
  tenant: string;
  grant: string[];
  secret: string[];
  allowHost: string[];
  config: string[];
  timeoutMs?: number;
  memoryMb?: number;
}

interface Output {
  write(text: string): unknown;
}

/** Transpiled components are kept between runs: the store is throw-away, the transpile need not be. */
function artifactCacheDir(): string {
  return join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'alga-runner', 'artifacts');
}

function pairs(list: string[], what: string, sep: string): [string, string][] {
  return list.map((item) => {
    const at = item.indexOf(sep);
    if (at <= 0) throw new UsageError(`${what} must look like 'name${sep}value', got '${item}'`);
    return [item.slice(0, at).trim(), item.slice(at + sep.length).trim()];
  });
}

class UsageError extends Error {}

export async function runOnce(file: string, options: RunOnceOptions, out: { stdout: Output; stderr: Output }): Promise<number> {
  const fail = (message: string) => {
    out.stderr.write(`alga-runner run: ${message}\n`);
    return 2;
  };
  let bytes: Uint8Array;
  try {
    bytes = await readFile(file);
  } catch (e) {
    return fail(`cannot read ${file}: ${(e as Error).message}`);
  }
  let component = bytes;
  let manifestCaps: string[] | null = null;
  if (binaryKind(bytes) === 'unknown') {
    const bundle = await readBundle(bytes);
    if (bundle.kind === 'err')
      return fail(`${file} is neither a component nor a valid bundle: ${bundle.error.message}${bundle.error.problems ? `\n${formatManifestProblems(bundle.error.problems)}` : ''}`);
    if (!bundle.value.mainWasm) return fail(`${file} is a UI-only bundle (a UI and no API): it has no component to run`);
    component = bundle.value.mainWasm;
    manifestCaps = [...bundle.value.manifest.capabilities];
  }

  let headers: [string, string][], secrets: [string, string][], config: [string, string][];
  let body: Uint8Array | undefined;
  try {
    headers = pairs(options.header, 'a header', ':');
    secrets = pairs(options.secret, 'a secret', '=');
    config = pairs(options.config, 'a config value', '=');
    if (options.body !== undefined) body = options.body.startsWith('@') ? await readFile(options.body.slice(1)) : new TextEncoder().encode(options.body);
  } catch (e) {
    return fail((e as Error).message);
  }
  if (!options.path.startsWith('/')) return fail(`--path must start with '/', got '${options.path}'`);

  const dir = await mkdtemp(join(tmpdir(), 'alga-runner-run-'));
  const secretsKey = Buffer.from(randomUUID().replace(/-/g, '').repeat(2), 'hex');
  const store = await openStore({ dataDir: dir, secretsKey });
  const tenantData = createStoreTenantData(store.db, store.readOnlyFile, null, { changes: store.changes });
  await seedDemoTenantData(tenantData, options.tenant);
  const registry = createCapabilityRegistry({ store, tenantData, http: { allowPrivate: process.env.RUNNER_EGRESS_ALLOW_PRIVATE === '1' } });
  const engine = await Engine.create({ cacheDir: artifactCacheDir(), registry, workers: 1 });
  try {
    const prepared = await engine.prepare(component);
    if (prepared.kind === 'err') return fail(`${prepared.problem.message} [${prepared.problem.code}]`);
    const contentHash = prepared.artifact.contentHash;
    const installId = randomUUID();
    if (secrets.length) await store.secrets.putSecrets(installId, Object.fromEntries(secrets));
    const requestId = randomUUID();
    const grants = effectiveGrants({ install: options.grant, manifest: manifestCaps ?? options.grant });
    const outcome = await engine.execute({
      contentHash,
      ctx: { requestId, tenantId: options.tenant, extensionId: 'local', installId, versionId: null, contentHash, user: null, config: Object.fromEntries(config) },
      install: { installId, tenantId: options.tenant, extensionId: 'local', versionId: null, config: Object.fromEntries(config), egressAllow: options.allowHost, uiProxy: null },
      grants,
      request: { method: options.method.toUpperCase(), url: options.path, headers: headers.map(([name, value]) => ({ name, value })), body },
      limits: { ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}), ...(options.memoryMb ? { memoryMb: options.memoryMb } : {}) },
      onLog: (record) => out.stderr.write(`${JSON.stringify(record)}\n`),
    });
    // the same check the service makes before a response leaves it
    const checked = outcome.kind === 'ok' ? checkGuestResponse(outcome.response) : null;
    if (outcome.kind === 'ok' && checked?.kind === 'ok') {
      out.stdout.write(`${JSON.stringify(responseJson(outcome.response), null, 2)}\n`);
      return 0;
    }
    const fault = outcome.kind === 'fault' ? outcome : { code: 'invalid_response' as const, message: checked?.kind === 'invalid' ? checked.message : '' };
    out.stdout.write(`${JSON.stringify({ status: fault.code === 'timeout' ? 504 : 500, headers: {}, error: fault.code, message: fault.message }, null, 2)}\n`);
    return 1;
  } finally {
    await engine.close();
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
}
