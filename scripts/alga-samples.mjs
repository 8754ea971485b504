#!/usr/bin/env node
// Dev-time check, not run in CI: builds Alga PSA's own sample extensions from a local checkout of
// Nine-Minds/alga-psa the way Alga's build does, and runs each against this runner in both modes,
// printing what every call answered.
//
//   npm run build && node scripts/alga-samples.mjs <alga-psa checkout> [--wit sample|runner] [--only name,...] [--cache dir]
//
// A checkout needs only sdk/, ee/extensions/ and ee/runner/wit, e.g.
//   git --git-dir=<mirror> archive <commit> sdk ee/extensions ee/runner/wit | tar -x -C /tmp/alga-src
//
// Build, per sample (sdk/samples/component/* and ee/extensions/samples/*), as its package.json and
// Alga's CLI (sdk/alga-client-sdk/src/lib/build-project.ts) do: the entry its build script gives
// esbuild or tsup (else src/handler.ts, src/index.ts, handler.ts), bundled with esbuild (esm,
// platform neutral, es2022, `alga:extension/*` external; `@alga-psa/extension-runtime` resolved to
// the checkout's sdk/extension-runtime/src, as its workspace does), then componentized with
// componentize-js against the sample's own wit/extension-runner.wit (`--wit runner`: Alga's current
// ee/runner/wit instead), world `runner`, every feature disabled (`jco componentize --disable all`).
// Nothing of Alga's is copied into this repository: everything is read from the checkout given.
//
// A sample without handler source is UI-only: packed with its ui/ files and no component (as it is
// in the checkout: a UI that needs its own build is not built); its /ext-ui entry is fetched and an
// execute call sent, which the runner refuses (no_component).
//
// Run: two runner processes (bin/alga-runner.js serve) on loopback — standalone, with Alga's ids
// mirrored through the admin API, and Alga-managed (RUNNER_REGISTRY=alga) — and one loopback
// server playing Alga (bundle store, ext-storage, clients, services, scheduler, invoicing, a ticket
// API for service-proxy-demo, a ui-proxy upstream: dist/test/support/fake-alga.js). Each call is sent as Alga's extension proxy
// sends it (dist/test/support/alga-gateway.js).
import { spawn } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { setInterval, clearInterval } from 'node:timers';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const checkout = args.find((a) => !a.startsWith('--'));
const option = (name) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
if (!checkout || !existsSync(join(checkout, 'sdk', 'samples', 'component'))) {
  console.error('usage: node scripts/alga-samples.mjs <alga-psa checkout> [--wit sample|runner] [--only name,...]');
  process.exit(2);
}
const witChoice = option('wit') ?? 'sample';
const only = option('only')?.split(',');
const cacheDir = option('cache');
if (!existsSync(join(root, 'dist', 'test', 'support', 'alga-gateway.js'))) {
  console.error('run `npm run build` first (the script uses dist/)');
  process.exit(2);
}
const { packBundle } = await import(join(root, 'dist', 'src', 'bundle', 'index.js'));
const { algaProxyRequest } = await import(join(root, 'dist', 'test', 'support', 'alga-gateway.js'));
const { startFakeAlga, FAKE_ALGA_AUTH: ALGA_AUTH, FAKE_ALGA_API_KEY, FAKE_CLIENT_ID: CLIENT_ID, FAKE_SERVICE_ID: SERVICE_ID } = await import(join(root, 'dist', 'test', 'support', 'fake-alga.js'));
const esbuild = await import('esbuild');
const { componentize } = await import('@bytecodealliance/componentize-js');

const ALL_FEATURES = ['stdio', 'random', 'clocks', 'http', 'fetch-event'];

// ---- what each sample's code intends to be called with ---------------------------------------
/** Calls per sample (its README and handler): method, path, body, and what a call needs first. */
const CALLS = {
  'client-service-read-demo': [
    { method: 'GET', path: '/api/clients' },
    { method: 'GET', path: '/api/services' },
  ],
  'invoicing-demo': [
    { method: 'GET', path: '/api/status' },
    { method: 'POST', path: '/api/create-manual-invoice', body: { clientId: CLIENT_ID, items: [{ serviceId: SERVICE_ID, quantity: 2, description: 'Support', rate: 15000 }] } },
  ],
  'scheduler-demo': [
    { method: 'GET', path: '/api/status' },
    { method: 'POST', path: '/api/setup' },
    { method: 'GET', path: '/api/schedules' },
    { method: 'DELETE', path: '/api/schedules/{first schedule}' },
    { method: 'POST', path: '/api/heartbeat' },
  ],
  'secrets-demo': [{ method: 'GET', path: '/' }],
  'service-proxy-demo': [
    { method: 'GET', path: '/?limit=2' },
    { method: 'POST', path: '/proxy/tickets', body: { limit: 1 } },
  ],
  'client-portal-test': [{ method: 'GET', path: '/' }],
};
/** Per-install settings a sample reads: secrets (stored in standalone, in the envelope when managed) and config. */
const SETTINGS = {
  'secrets-demo': { secrets: { greeting: 'Hello from Alga secrets' } },
  'service-proxy-demo': { secrets: { ALGA_API_KEY: FAKE_ALGA_API_KEY }, config: (alga) => ({ algaApiBase: alga }) },
};

// ---- build ------------------------------------------------------------------------------------
function discover() {
  const dirs = [];
  for (const base of [join(checkout, 'sdk', 'samples', 'component'), join(checkout, 'ee', 'extensions', 'samples')]) {
    if (!existsSync(base)) continue;
    for (const name of readdirSync(base).sort()) if (existsSync(join(base, name, 'manifest.json'))) dirs.push({ name, dir: join(base, name) });
  }
  return only ? dirs.filter((d) => only.includes(d.name)) : dirs;
}

/** The JS entry the sample's build bundles: its build script's esbuild/tsup entry, else Alga's CLI default. */
function entryOf(dir) {
  const pkgPath = join(dir, 'package.json');
  if (!existsSync(pkgPath)) return null;
  const scripts = JSON.parse(readFileSync(pkgPath, 'utf8')).scripts ?? {};
  for (const key of ['build:backend', 'build:js']) {
    const m = /(?:esbuild|tsup)\s+(\S+\.ts)/.exec(scripts[key] ?? '');
    if (m) return join(dir, m[1]);
  }
  for (const candidate of ['src/handler.ts', 'src/index.ts', 'handler.ts']) if (existsSync(join(dir, candidate))) return join(dir, candidate);
  return null;
}

/** The sample's `ui/` files as they are in the checkout (its UI build, which needs its npm deps, is not run). */
function uiFilesOf(dir) {
  const files = new Map();
  const walk = (rel) => {
    for (const entry of readdirSync(join(dir, rel), { withFileTypes: true })) {
      const path = `${rel}/${entry.name}`;
      if (entry.isDirectory()) walk(path);
      else if (!/\.(ts|tsx)$/.test(entry.name)) files.set(path, readFileSync(join(dir, path)));
    }
  };
  if (existsSync(join(dir, 'ui'))) walk('ui');
  return files;
}

async function build(sample) {
  const manifestJson = readFileSync(join(sample.dir, 'manifest.json'), 'utf8');
  const manifest = JSON.parse(manifestJson);
  const entry = entryOf(sample.dir);
  if (!entry) {
    // no handler source: a UI-only sample (a manifest with a ui and no api), packed with its ui/ files and no component
    const packed = await packBundle({ manifestJson, uiFiles: uiFilesOf(sample.dir) });
    if (packed.kind !== 'ok') {
      const problems = (packed.error.problems ?? []).map((p) => ` ${p.path}: ${p.message}`).join(';');
      return { ...sample, manifest, skipped: `no component to build (UI-only); pack refused: ${packed.error.message}${problems}` };
    }
    return { ...sample, manifest, bundle: packed.value, uiOnly: true };
  }
  const witPath = witChoice === 'runner' ? join(checkout, 'ee', 'runner', 'wit', 'extension-runner.wit') : join(sample.dir, 'wit', 'extension-runner.wit');
  if (!existsSync(witPath)) return { ...sample, manifest, skipped: `no WIT at ${witPath}` };
  const started = performance.now();
  const bundled = await esbuild.build({
    entryPoints: [entry],
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    target: 'es2022',
    external: ['alga:extension/*'],
    alias: { '@alga-psa/extension-runtime': join(checkout, 'sdk', 'extension-runtime', 'src', 'index.ts') },
    mainFields: ['module', 'main'],
    write: false,
    logLevel: 'silent',
  });
  const scratch = mkdtempSync(join(tmpdir(), `alga-sample-${sample.name}-`));
  try {
    const sourcePath = join(scratch, 'index.js');
    writeFileSync(sourcePath, bundled.outputFiles[0].text);
    const code = bundled.outputFiles[0].text;
    const witText = readFileSync(witPath, 'utf8');
    // --cache <dir>: a component built from the same code and WIT is reused (componentize takes ~15 s a sample)
    const cached = cacheDir && join(cacheDir, `${createHash('sha256').update(code).update(witText).digest('hex')}.wasm`);
    let component;
    if (cached && existsSync(cached)) component = readFileSync(cached);
    else {
      ({ component } = await componentize({ sourcePath, witWorld: witText, worldName: 'runner', disableFeatures: ALL_FEATURES }));
      if (cached) writeFileSync(cached, component);
    }
    const packed = await packBundle({ manifestJson, mainWasm: Buffer.from(component), uiFiles: uiFilesOf(sample.dir) });
    if (packed.kind !== 'ok') return { ...sample, manifest, skipped: `pack refused: ${packed.error.message}` };
    return { ...sample, manifest, entry, bundle: packed.value, seconds: (performance.now() - started) / 1000, wasmBytes: component.byteLength };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

// ---- runners -----------------------------------------------------------------------------------
async function freePort() {
  const s = createServer();
  await new Promise((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}

async function startRunner(mode, alga) {
  const dataDir = mkdtempSync(join(tmpdir(), `alga-samples-${mode}-`));
  const port = await freePort();
  const env = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    LOG_LEVEL: 'warn',
    RUNNER_SERVICE_TOKEN: 'samples-service-token-0123',
    RUNNER_ADMIN_TOKEN: 'samples-admin-token-01234',
    RUNNER_SECRETS_KEY: Buffer.alloc(32, 7).toString('base64'),
    RUNNER_EGRESS_ALLOW_PRIVATE: '1',
    RUNNER_WORKERS: '1',
    ...(mode === 'managed'
      ? {
          RUNNER_REGISTRY: 'alga',
          RUNNER_COMPONENT_STORE: 'http',
          RUNNER_COMPONENT_STORE_URL: `${alga.url}/bundles`,
          RUNNER_TENANT_DATA_URL: alga.url,
          RUNNER_TENANT_DATA_TOKEN: ALGA_AUTH,
          RUNNER_MANAGED_EGRESS_ALLOW: alga.url,
          RUNNER_MANAGED_UI_PROXY_URL: `${alga.url}/upstream`,
        }
      : {}),
  };
  const child = spawn(process.execPath, [join(root, 'bin', 'alga-runner.js'), 'serve', '--port', String(port), '--host', '127.0.0.1', '--data-dir', dataDir], {
    env,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (c) => (stderr += c));
  await new Promise((resolveStarted, reject) => {
    child.on('exit', (code) => reject(new Error(`the ${mode} runner exited (${code}):\n${stderr}`)));
    const poll = setInterval(() => {
      if (stderr.includes('alga-runner listening on')) {
        clearInterval(poll);
        resolveStarted();
      }
    }, 50);
  });
  return {
    mode,
    url: `http://127.0.0.1:${port}`,
    serviceToken: env.RUNNER_SERVICE_TOKEN,
    adminToken: env.RUNNER_ADMIN_TOKEN,
    async close() {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

async function adminCall(runner, method, path, body, contentType = 'application/json') {
  const res = await fetch(`${runner.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${runner.adminToken}`, 'content-type': contentType },
    body: body === undefined ? undefined : contentType === 'application/json' ? JSON.stringify(body) : body,
  });
  const text = await res.text();
  if (res.status >= 300) throw new Error(`admin ${method} ${path}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

/** Alga's install of a sample, made known to the runner as the mode wants it. */
async function install(runner, alga, sample) {
  const ids = { tenantId: randomUUID(), registryId: randomUUID(), installId: randomUUID(), versionId: randomUUID(), contentHash: sample.bundle.contentHash };
  const settings = SETTINGS[sample.name] ?? {};
  const config = typeof settings.config === 'function' ? settings.config(alga.url) : (settings.config ?? {});
  const providers = sample.manifest.capabilities ?? [];
  alga.endpointsOf.set(ids.installId, sample.manifest.api?.endpoints ?? []);
  if (runner.mode === 'managed') {
    alga.objects.set(`tenants/${ids.tenantId}/extensions/${ids.registryId}/sha256/${sample.bundle.contentHash.slice(7)}/bundle.tar.zst`, sample.bundle.bytes);
  } else {
    await adminCall(runner, 'POST', `/admin/v1/extensions?extension_id=${ids.registryId}&version_id=${ids.versionId}`, sample.bundle.bytes, 'application/zstd');
    await adminCall(runner, 'POST', '/admin/v1/installs', {
      install_id: ids.installId,
      tenant_id: ids.tenantId,
      extension_id: ids.registryId,
      version_id: ids.versionId,
      grants: providers,
      config,
      egress: { allow: [alga.url] },
      ui_proxy: { base_url: `${alga.url}/upstream` },
    });
    if (settings.secrets) await adminCall(runner, 'PUT', `/admin/v1/installs/${ids.installId}/secrets`, { values: settings.secrets });
    await adminCall(runner, 'PUT', `/admin/v1/tenants/${ids.tenantId}/clients`, { items: [{ client_id: CLIENT_ID, client_name: 'Acme Corp' }] });
    await adminCall(runner, 'PUT', `/admin/v1/tenants/${ids.tenantId}/services`, {
      items: [{ service_id: SERVICE_ID, service_name: 'Support', item_kind: 'service', billing_method: 'hourly', default_rate: 15000, unit_of_measure: 'hour' }],
    });
  }
  // managed: Alga keeps the secrets and sends them sealed in every call
  const secretEnvelope = runner.mode === 'managed' && settings.secrets ? { ciphertext_b64: Buffer.from(JSON.stringify(settings.secrets)).toString('base64'), algorithm: 'inline/base64' } : undefined;
  return { ids, providers, config, secretEnvelope };
}

async function callSample(runner, installed, call) {
  const { headers, body } = algaProxyRequest(installed.ids, call.path, {
    method: call.method,
    body: call.body,
    providers: installed.providers,
    config: installed.config,
    secretEnvelope: installed.secretEnvelope,
    serviceToken: runner.serviceToken,
  });
  const res = await fetch(`${runner.url}/v1/execute`, { method: 'POST', headers, body: JSON.stringify(body) });
  const json = await res.json();
  if (res.status !== 200) return { status: `transport ${res.status}`, answer: `${json.error?.code}: ${json.error?.message ?? ''}` };
  const text = json.body_b64 ? Buffer.from(json.body_b64, 'base64').toString('utf8') : '';
  return { status: json.status, answer: text, error: json.error };
}

// ---- main --------------------------------------------------------------------------------------
const cell = (s) => String(s).replace(/\|/g, '\\|').replace(/\s+/g, ' ');
const short = (s, n = 150) => (s.length > n ? `${s.slice(0, n)}…` : s);
/** Values that differ on every run (ids, times) shown as placeholders, so two runs' tables compare. */
const stable = (s) =>
  s
    .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi, '<uuid>')
    .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z/g, '<time>')
    .replace(/INV-\d+/g, 'INV-<n>');

const samples = discover();
console.log(`alga-samples: ${samples.length} samples in ${checkout}; WIT: ${witChoice === 'runner' ? 'ee/runner/wit' : "each sample's wit/extension-runner.wit"}`);
const built = [];
for (const sample of samples) {
  try {
    const b = await build(sample);
    built.push(b);
    console.log(
      b.skipped
        ? `  ${sample.name}: ${b.skipped}`
        : b.uiOnly
          ? `  ${sample.name}: UI-only, packed with ${b.bundle.bytes.byteLength} bytes`
          : `  ${sample.name}: built from ${b.entry.slice(sample.dir.length + 1)} in ${b.seconds.toFixed(1)} s (${(b.wasmBytes / 2 ** 20).toFixed(1)} MiB)`,
    );
  } catch (e) {
    built.push({ ...sample, skipped: `build failed: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}` });
    console.log(`  ${sample.name}: build failed: ${e instanceof Error ? e.message : String(e)}`);
  }
}

const alga = await startFakeAlga();
const rows = [];
try {
  for (const mode of ['standalone', 'managed']) {
    const runner = await startRunner(mode, alga);
    try {
      for (const sample of built) {
        if (sample.skipped) {
          rows.push([sample.name, mode, '—', '—', sample.skipped]);
          continue;
        }
        let installed;
        try {
          installed = await install(runner, alga, sample);
        } catch (e) {
          rows.push([sample.name, mode, 'install', 'refused', e instanceof Error ? e.message : String(e)]);
          continue;
        }
        if (sample.uiOnly) {
          const { ids } = installed;
          const entry = sample.manifest.ui.entry.replace(/^ui\//, '');
          const ui = await fetch(`${runner.url}/ext-ui/${ids.registryId}/${ids.contentHash}/${entry}${mode === 'managed' ? `?tenant=${ids.tenantId}` : ''}`);
          const page = await ui.text();
          rows.push([sample.name, mode, `GET /ext-ui/{id}/{hash}/${entry}`, ui.status, short(`${ui.headers.get('content-type')}, ${page.length} bytes: ${page.replace(/\s+/g, ' ')}`, 90)]);
        }
        let firstSchedule = null;
        for (const call of CALLS[sample.name] ?? [{ method: 'GET', path: '/' }]) {
          const path = call.path.replace('{first schedule}', firstSchedule ?? 'none');
          const r = await callSample(runner, installed, { ...call, path });
          if (sample.name === 'scheduler-demo' && call.path === '/api/schedules') {
            try {
              firstSchedule = JSON.parse(r.answer).schedules?.[0]?.id ?? null;
            } catch {
              // the answer says why
            }
          }
          rows.push([sample.name, mode, `${call.method} ${path}`, r.status, short(stable(r.answer || r.error || ''))]);
        }
      }
    } finally {
      await runner.close();
    }
  }
} finally {
  await alga.close();
}

console.log('\n| sample | mode | call | status | answer |\n|---|---|---|---|---|');
for (const row of rows) console.log(`| ${row.map((c) => cell(c)).join(' | ')} |`);
