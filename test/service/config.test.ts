/** Configuration from flags and environment (src/service/config.ts): defaults and clear refusals. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, loadConfig } from '../../src/service/config.js';

test('RUNNER_WORKER_READS: on by default, off with 0 or false, anything else refused by name', () => {
  assert.equal(loadConfig({}, {}).workerReads, true);
  assert.equal(loadConfig({}, { RUNNER_WORKER_READS: '1' }).workerReads, true);
  assert.equal(loadConfig({}, { RUNNER_WORKER_READS: '0' }).workerReads, false);
  assert.equal(loadConfig({}, { RUNNER_WORKER_READS: 'false' }).workerReads, false);
  assert.throws(
    () => loadConfig({}, { RUNNER_WORKER_READS: 'off' }),
    (e: unknown) => e instanceof ConfigError && /RUNNER_WORKER_READS: must be 0, 1, true or false/.test(e.message),
  );
});

test('RUNNER_WRITE_TRACKING: on by default, off with 0 or false, anything else refused by name', () => {
  assert.equal(loadConfig({}, {}).writeTracking, true);
  assert.equal(loadConfig({}, { RUNNER_WRITE_TRACKING: '' }).writeTracking, true);
  assert.equal(loadConfig({}, { RUNNER_WRITE_TRACKING: '1' }).writeTracking, true);
  assert.equal(loadConfig({}, { RUNNER_WRITE_TRACKING: '0' }).writeTracking, false);
  assert.equal(loadConfig({}, { RUNNER_WRITE_TRACKING: 'false' }).writeTracking, false);
  assert.throws(
    () => loadConfig({}, { RUNNER_WRITE_TRACKING: 'maybe' }),
    (e: unknown) => e instanceof ConfigError && /RUNNER_WRITE_TRACKING: must be 0, 1, true or false/.test(e.message),
  );
});

test('RUNNER_IDEMPOTENCY_LEASE_MS, RUNNER_IDEMPOTENCY_PURGE_INTERVAL_MS, RUNNER_DRAIN_DELAY_MS: defaults, 0 where it means off, bad values refused by name', () => {
  const defaults = loadConfig({}, {});
  assert.equal(defaults.idempotencyLeaseMs, 10_000);
  assert.equal(defaults.idempotencyPurgeIntervalMs, 600_000);
  assert.equal(defaults.drainDelayMs, 5_000);
  const set = loadConfig({}, { RUNNER_IDEMPOTENCY_LEASE_MS: '2000', RUNNER_IDEMPOTENCY_PURGE_INTERVAL_MS: '0', RUNNER_DRAIN_DELAY_MS: '0' });
  assert.deepEqual([set.idempotencyLeaseMs, set.idempotencyPurgeIntervalMs, set.drainDelayMs], [2000, 0, 0]);
  for (const [name, value] of [
    ['RUNNER_IDEMPOTENCY_LEASE_MS', '100'],
    ['RUNNER_IDEMPOTENCY_LEASE_MS', '0'],
    ['RUNNER_IDEMPOTENCY_PURGE_INTERVAL_MS', '-1'],
    ['RUNNER_DRAIN_DELAY_MS', 'soon'],
    ['RUNNER_DRAIN_DELAY_MS', '1.5'],
  ] as const) {
    assert.throws(
      () => loadConfig({}, { [name]: value }),
      (e: unknown) => e instanceof ConfigError && e.message.includes(`${name}:`),
      `${name}=${value}`,
    );
  }
});

test('RUNNER_HOT_WAIT_MS: 0.5 ms by default, 0 turns it off, a word or a negative number is refused by name', () => {
  assert.equal(loadConfig({}, {}).hotWaitMs, 0.5);
  assert.equal(loadConfig({}, { RUNNER_HOT_WAIT_MS: '0' }).hotWaitMs, 0);
  assert.equal(loadConfig({}, { RUNNER_HOT_WAIT_MS: '1.5' }).hotWaitMs, 1.5);
  assert.throws(
    () => loadConfig({}, { RUNNER_HOT_WAIT_MS: 'soon' }),
    (e: unknown) => e instanceof ConfigError && /RUNNER_HOT_WAIT_MS: must be a number/.test(e.message),
  );
  assert.throws(
    () => loadConfig({}, { RUNNER_HOT_WAIT_MS: '-1' }),
    (e: unknown) => e instanceof ConfigError && /RUNNER_HOT_WAIT_MS: must be 0 or more/.test(e.message),
  );
});

test('RUNNER_COMPONENT_STORE: postgres with DATABASE_URL, local without; s3 and http need their settings; mistakes are refused by name', () => {
  const pg = 'postgres://u@h/db';
  assert.deepEqual(loadConfig({}, {}).componentStore, { kind: 'local' });
  assert.deepEqual(loadConfig({}, { DATABASE_URL: pg }).componentStore, { kind: 'postgres' });
  assert.deepEqual(loadConfig({ databaseUrl: pg }, {}).componentStore, { kind: 'postgres' });
  assert.deepEqual(loadConfig({}, { DATABASE_URL: pg, RUNNER_COMPONENT_STORE: 'local' }).componentStore, { kind: 'local' });
  assert.deepEqual(loadConfig({}, { RUNNER_COMPONENT_STORE: 'S3', RUNNER_COMPONENT_STORE_BUCKET: 'b', RUNNER_COMPONENT_STORE_ENDPOINT: 'http://127.0.0.1:9000' }).componentStore, {
    kind: 's3',
    bucket: 'b',
    region: 'us-east-1',
    endpoint: 'http://127.0.0.1:9000',
  });
  assert.equal((loadConfig({}, { RUNNER_COMPONENT_STORE: 's3', RUNNER_COMPONENT_STORE_BUCKET: 'b', AWS_REGION: 'eu-west-1' }).componentStore as { region: string }).region, 'eu-west-1');
  assert.deepEqual(loadConfig({}, { RUNNER_COMPONENT_STORE: 'http', RUNNER_COMPONENT_STORE_URL: 'https://cdn.example.com/alga' }).componentStore, {
    kind: 'http',
    baseUrl: 'https://cdn.example.com/alga',
  });
  assert.equal(loadConfig({}, {}).componentFetchTimeoutMs, 60_000);
  assert.equal(loadConfig({}, { RUNNER_COMPONENT_FETCH_TIMEOUT_MS: '5000' }).componentFetchTimeoutMs, 5000);
  const refused = (env: Record<string, string>, pattern: RegExp) =>
    assert.throws(
      () => loadConfig({}, env),
      (e: unknown) => e instanceof ConfigError && pattern.test(e.message),
      JSON.stringify(env),
    );
  refused({ RUNNER_COMPONENT_STORE: 'postgres' }, /RUNNER_COMPONENT_STORE: postgres needs DATABASE_URL/);
  refused({ RUNNER_COMPONENT_STORE: 'redis' }, /RUNNER_COMPONENT_STORE: must be postgres, s3, http or local/);
  refused({ RUNNER_COMPONENT_STORE: 's3' }, /RUNNER_COMPONENT_STORE_BUCKET: is required with RUNNER_COMPONENT_STORE=s3/);
  refused({ RUNNER_COMPONENT_STORE: 's3', RUNNER_COMPONENT_STORE_BUCKET: 'b', RUNNER_COMPONENT_STORE_ENDPOINT: 'ftp://x' }, /RUNNER_COMPONENT_STORE_ENDPOINT: must be an http\(s\) URL/);
  refused({ RUNNER_COMPONENT_STORE: 'http' }, /RUNNER_COMPONENT_STORE_URL: is required with RUNNER_COMPONENT_STORE=http/);
  refused({ RUNNER_COMPONENT_STORE: 'http', RUNNER_COMPONENT_STORE_URL: 'file:///srv' }, /RUNNER_COMPONENT_STORE_URL: is required with RUNNER_COMPONENT_STORE=http and must be an http\(s\) URL/);
  refused({ RUNNER_COMPONENT_STORE_BUCKET: 'b' }, /RUNNER_COMPONENT_STORE_BUCKET: only used with RUNNER_COMPONENT_STORE=s3 \(the store is local\)/);
  refused({ DATABASE_URL: pg, RUNNER_COMPONENT_STORE_URL: 'https://x' }, /RUNNER_COMPONENT_STORE_URL: only used with RUNNER_COMPONENT_STORE=http \(the store is postgres\)/);
  refused({ RUNNER_COMPONENT_FETCH_TIMEOUT_MS: '0' }, /RUNNER_COMPONENT_FETCH_TIMEOUT_MS/);
});

test('RUNNER_CORES: available parallelism by default; it sets the default worker count; RUNNER_WORKERS and --workers still win', () => {
  const cores = availableParallelism();
  assert.equal(loadConfig({}, {}).cores, cores);
  assert.equal(loadConfig({}, {}).workers, cores);
  const quota = loadConfig({}, { RUNNER_CORES: '1' });
  assert.deepEqual([quota.cores, quota.workers], [1, 1]);
  assert.equal(loadConfig({}, { RUNNER_CORES: '1', RUNNER_WORKERS: '3' }).workers, 3);
  assert.equal(loadConfig({ workers: '2' }, { RUNNER_CORES: '1', RUNNER_WORKERS: '3' }).workers, 2);
  for (const bad of ['half', '0', '-2']) {
    assert.throws(
      () => loadConfig({}, { RUNNER_CORES: bad }),
      (e: unknown) => e instanceof ConfigError && /RUNNER_CORES/.test(e.message),
      bad,
    );
  }
});

test('RUNNER_SQLITE_SYNCHRONOUS: full by default, normal (any case) accepted, anything else refused by name', () => {
  assert.equal(loadConfig({}, {}).sqliteSynchronous, 'full');
  assert.equal(loadConfig({}, { RUNNER_SQLITE_SYNCHRONOUS: 'normal' }).sqliteSynchronous, 'normal');
  assert.equal(loadConfig({}, { RUNNER_SQLITE_SYNCHRONOUS: 'NORMAL' }).sqliteSynchronous, 'normal');
  for (const bad of ['off', 'extra', '1']) {
    assert.throws(
      () => loadConfig({}, { RUNNER_SQLITE_SYNCHRONOUS: bad }),
      (e: unknown) => e instanceof ConfigError && /RUNNER_SQLITE_SYNCHRONOUS: must be full or normal/.test(e.message),
      bad,
    );
  }
});

test('every setting the service reads from the environment is named in `serve --help` and in the README', () => {
  const root = fileURLToPath(new URL('../../../', import.meta.url));
  const names = [...new Set([...readFileSync(join(root, 'src', 'service', 'config.ts'), 'utf8').matchAll(/env\.([A-Z][A-Z0-9_]+)/g)].map((m) => m[1]!))];
  assert.ok(names.length > 20, `found ${names.length} settings`);
  const help = execFileSync(process.execPath, [join(root, 'bin', 'alga-runner.js'), 'serve', '--help'], { encoding: 'utf8' });
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  assert.deepEqual(
    names.filter((n) => !help.includes(n)),
    [],
    'missing from serve --help',
  );
  assert.deepEqual(
    names.filter((n) => !readme.includes(n)),
    [],
    'missing from the README',
  );
});

test('RUNNER_TOKENLESS_NETWORKS and RUNNER_TRUSTED_PROXIES: none by default; CIDRs and addresses parsed; anything else refused by name', () => {
  const plain = loadConfig({}, {});
  assert.deepEqual(plain.tokenlessNetworks, []);
  assert.deepEqual(plain.trustedProxies, []);
  const set = loadConfig({}, { RUNNER_TOKENLESS_NETWORKS: '10.20.0.0/16, fd00::/8 192.168.1.7', RUNNER_TRUSTED_PROXIES: '10.0.0.1' });
  assert.deepEqual(
    set.tokenlessNetworks.map((n) => n.text),
    ['10.20.0.0/16', 'fd00::/8', '192.168.1.7/32'],
  );
  assert.deepEqual(
    set.trustedProxies.map((n) => n.text),
    ['10.0.0.1/32'],
  );
  for (const [name, bad] of [
    ['RUNNER_TOKENLESS_NETWORKS', '10.0.0.0/33'],
    ['RUNNER_TOKENLESS_NETWORKS', 'intranet'],
    ['RUNNER_TRUSTED_PROXIES', '10.0.0'],
  ] as const) {
    assert.throws(
      () => loadConfig({}, { [name]: bad }),
      (e: unknown) => e instanceof ConfigError && e.message.includes(`${name}: '${bad}' is not an IP address or CIDR network`),
    );
  }
});

test('RUNNER_ENVELOPE_SECRETS off by default; Vault settings need a token and at least one transit key, named in the refusal', () => {
  const plain = loadConfig({}, {});
  assert.equal(plain.envelopeSecrets, false);
  assert.equal(plain.vault, null);
  const vault = loadConfig({}, { RUNNER_ENVELOPE_SECRETS: '1', RUNNER_VAULT_ADDR: 'https://vault.internal:8200', RUNNER_VAULT_TOKEN: 't', RUNNER_VAULT_TRANSIT_KEYS: 'a, b' });
  assert.equal(vault.envelopeSecrets, true);
  assert.deepEqual(vault.vault, { addr: 'https://vault.internal:8200', token: 't', namespace: undefined, mount: 'transit', keys: ['a', 'b'], timeoutMs: 5000 });
  assert.throws(
    () => loadConfig({}, { RUNNER_VAULT_ADDR: 'https://vault.internal:8200', RUNNER_VAULT_TRANSIT_KEYS: 'a' }),
    (e: unknown) => e instanceof ConfigError && /RUNNER_VAULT_TOKEN: is required with RUNNER_VAULT_ADDR/.test(e.message),
  );
  assert.throws(
    () => loadConfig({}, { RUNNER_VAULT_ADDR: 'https://vault.internal:8200', RUNNER_VAULT_TOKEN: 't' }),
    (e: unknown) => e instanceof ConfigError && /RUNNER_VAULT_TRANSIT_KEYS: name at least one transit key/.test(e.message),
  );
  assert.throws(
    () => loadConfig({}, { RUNNER_VAULT_ADDR: 'https://vault.internal:8200', RUNNER_VAULT_TOKEN: 't', RUNNER_VAULT_TRANSIT_KEYS: 'a/b' }),
    (e: unknown) => e instanceof ConfigError && /RUNNER_VAULT_TRANSIT_KEYS: must be transit key names/.test(e.message),
  );
});

test('RUNNER_METRICS_INSTALL_LABELS: 0 (off) by default, a bound when set, bad values refused by name', () => {
  assert.equal(loadConfig({}, {}).metricsInstallLabels, 0);
  assert.equal(loadConfig({}, { RUNNER_METRICS_INSTALL_LABELS: '50' }).metricsInstallLabels, 50);
  for (const bad of ['-1', 'many', '1.5']) {
    assert.throws(
      () => loadConfig({}, { RUNNER_METRICS_INSTALL_LABELS: bad }),
      (e: unknown) => e instanceof ConfigError && /RUNNER_METRICS_INSTALL_LABELS/.test(e.message),
    );
  }
});

test("RUNNER_SCHEDULE_MUTATIONS_PER_MINUTE: Alga's 10 by default, 0 for none, anything but a whole number refused by name", () => {
  assert.equal(loadConfig({}, {}).scheduleMutationsPerMinute, 10);
  assert.equal(loadConfig({}, { RUNNER_SCHEDULE_MUTATIONS_PER_MINUTE: '0' }).scheduleMutationsPerMinute, 0);
  assert.equal(loadConfig({}, { RUNNER_SCHEDULE_MUTATIONS_PER_MINUTE: '60' }).scheduleMutationsPerMinute, 60);
  for (const bad of ['ten', '-1', '2.5']) {
    assert.throws(
      () => loadConfig({}, { RUNNER_SCHEDULE_MUTATIONS_PER_MINUTE: bad }),
      (e: unknown) => e instanceof ConfigError && /RUNNER_SCHEDULE_MUTATIONS_PER_MINUTE/.test(e.message),
      bad,
    );
  }
});
