/**
 * The operator commands (`login`, `profiles`, `installs`, `secrets`, `logs`, `tenant-data`,
 * `publish` of a bare component, `--version`) run as real processes against a real service: the
 * profile file, human and `--json` output, API errors as `code: message` with exit code 1.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cleanEnv, startCli } from './cli-process.js';
import { admin, exampleBytes, execute, guestJson, repoRoot, startTestService, uploadExample, type TestService } from './harness.js';

let svc: TestService;
const configHome = mkdtempSync(join(tmpdir(), 'cli-config-'));
const files = mkdtempSync(join(tmpdir(), 'cli-files-'));

/** the environment of every run: no runner settings of the parent, a private config dir */
const baseEnv = (extra: Record<string, string> = {}) => cleanEnv({ XDG_CONFIG_HOME: configHome, ...extra });

function cli(args: readonly string[], env = baseEnv()): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [join(repoRoot, 'bin', 'alga-runner.js'), ...args], { env: env as NodeJS.ProcessEnv }, (error, stdout, stderr) => {
      resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr });
    });
  });
}

const ctx = (requestId: string) => ({ context: { tenant_id: 'tenant-cli', extension_id: 'kitchen-sink', request_id: requestId } });

before(async () => {
  svc = await startTestService();
  await uploadExample(svc, 'kitchen-sink', { name: 'kitchen-sink', capabilities: ['cap:log.emit', 'cap:client.read', 'cap:secrets.get'] });
});
after(async () => svc.close());

describe('alga-runner operator commands', () => {
  test('--version prints the package version', async () => {
    const out = await cli(['--version']);
    assert.equal(out.code, 0);
    const { version } = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string };
    assert.equal(out.stdout.trim(), version);
  });

  test('login checks the token, then saves the profile (mode 0600) that later commands use', async () => {
    const path = join(configHome, 'alga-runner', 'config.json');
    const wrong = await cli(['login', '--url', svc.url, '--token', 'not-the-token']);
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /^alga-runner: unauthorized: /m);
    assert.equal(existsSync(path), false, 'nothing saved for a refused token');

    const ok = await cli(['login', '--url', `${svc.url}/`, '--token', svc.adminToken, '--profile', 'local']);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.deepEqual(JSON.parse(readFileSync(path, 'utf8')), { profile: 'local', profiles: { local: { url: svc.url, token: svc.adminToken } } });

    const listed = await cli(['profiles', 'list', '--json']);
    assert.deepEqual(JSON.parse(listed.stdout), { profiles: [{ name: 'local', url: svc.url, current: true }] });
    assert.doesNotMatch((await cli(['profiles'])).stdout, new RegExp(svc.adminToken), 'tokens are never printed');
    const missing = await cli(['installs', 'list', '--profile', 'nope']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no profile nope/);
  });

  test('installs create, list, show, patch, delete through the profile; API errors are code: message, exit 1', async () => {
    const created = await cli([
      'installs',
      'create',
      '--tenant',
      'tenant-cli',
      '--extension',
      'kitchen-sink',
      '--install-id',
      'inst-cli',
      '--grant',
      'cap:log.emit,cap:client.read',
      '--grant',
      'cap:secrets.get',
    ]);
    assert.equal(created.code, 0, created.stderr);
    assert.equal(created.stdout.trim(), 'inst-cli');

    const table = await cli(['installs', 'list', '--tenant', 'tenant-cli']);
    assert.equal(table.code, 0, table.stderr);
    const [header, row] = table.stdout.trim().split('\n');
    assert.match(header!, /^INSTALL\s+TENANT\s+EXTENSION\s+VERSION\s+ENABLED\s+GRANTS$/);
    assert.match(row!, /^inst-cli\s+tenant-cli\s+\S+\s+\S+\s+yes\s+cap:log.emit,cap:client.read,cap:secrets.get$/);

    const json = await cli(['installs', 'list', '--json']);
    const { installs } = JSON.parse(json.stdout) as { installs: { install_id: string; grants: string[] }[] };
    assert.deepEqual(
      installs.map((i) => i.install_id),
      ['inst-cli'],
    );

    const patched = await cli(['installs', 'patch', 'inst-cli', '--config', 'region=eu', '--timeout-ms', '2000', '--json']);
    assert.equal(patched.code, 0, patched.stderr);
    const after = JSON.parse(patched.stdout) as { config: Record<string, string>; limits: { timeout_ms: number } };
    assert.deepEqual([after.config, after.limits.timeout_ms], [{ region: 'eu' }, 2000]);
    const shown = await cli(['installs', 'show', 'inst-cli']);
    assert.match(shown.stdout, /^config:\s+region=eu$/m);
    assert.match(shown.stdout, /^limits:\s+timeout_ms=2000$/m);

    const unknown = await cli(['installs', 'show', 'no-such-install']);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /^alga-runner: install_not_found: /m);
    const invalid = await cli(['installs', 'create', '--tenant', 'tenant-cli', '--extension', 'kitchen-sink', '--grant', 'storage']);
    assert.equal(invalid.code, 1);
    assert.match(invalid.stderr, /^alga-runner: invalid_request: /m);
    assert.match(invalid.stderr, /^ {2}body\.grants\.0: must be a cap: name$/m);

    const other = await cli(['installs', 'create', '--tenant', 'tenant-gone', '--extension', 'kitchen-sink']);
    assert.equal(other.code, 0, other.stderr);
    const removed = await cli(['installs', 'delete', other.stdout.trim()]);
    assert.equal(removed.code, 0, removed.stderr);
    assert.equal((await admin(svc, 'GET', `/admin/v1/installs/${other.stdout.trim()}`)).status, 404);
  });

  test('secrets set (merging, or --replace), list shows names only, delete one; a missing one is secret_not_found', async () => {
    assert.equal((await cli(['secrets', 'set', 'inst-cli', 'alpha=one', 'beta=two'])).code, 0);
    writeFileSync(join(files, 'more.json'), JSON.stringify({ gamma: 'three' }));
    assert.equal((await cli(['secrets', 'set', 'inst-cli', '--file', join(files, 'more.json')])).code, 0);
    const listed = await cli(['secrets', 'list', 'inst-cli']);
    assert.deepEqual(listed.stdout.trim().split('\n'), ['SECRET', 'alpha', 'beta', 'gamma']);
    assert.doesNotMatch(listed.stdout, /one|two|three/);
    const read = await execute(svc, '/secrets/get', { query: { key: 'beta' }, envelope: ctx('req-secret') });
    assert.deepEqual(guestJson(read.json), { ok: 'two' }, 'the guest reads the value set through the CLI');

    assert.equal((await cli(['secrets', 'delete', 'inst-cli', 'beta'])).code, 0);
    assert.deepEqual(JSON.parse((await cli(['secrets', 'list', 'inst-cli', '--json'])).stdout), { install_id: 'inst-cli', secrets: ['alpha', 'gamma'] });
    const again = await cli(['secrets', 'delete', 'inst-cli', 'beta']);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /^alga-runner: secret_not_found: the install has no secret of this name: beta$/m);
    const direct = await admin<{ error: { code: string } }>(svc, 'DELETE', '/admin/v1/installs/inst-cli/secrets/beta');
    assert.deepEqual([direct.status, direct.json.error.code], [404, 'secret_not_found']);

    assert.equal((await cli(['secrets', 'set', 'inst-cli', '--replace', 'delta=four'])).code, 0);
    assert.deepEqual(JSON.parse((await cli(['secrets', 'list', 'inst-cli', '--json'])).stdout).secrets, ['delta']);
    const noInstall = await cli(['secrets', 'set', 'no-such-install', 'a=b']);
    assert.equal(noInstall.code, 1);
    assert.match(noInstall.stderr, /^alga-runner: install_not_found: /m);
    const bad = await cli(['secrets', 'set', 'inst-cli', 'no-equals-sign']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /expected NAME=VALUE/);
  });

  test('logs prints the records; --follow --limit prints the newest backlog, then a new record', async () => {
    for (const msg of ['first', 'second', 'third']) await execute(svc, '/log', { query: { level: 'warn', msg }, envelope: ctx('req-logs') });
    const printed = await cli(['logs', 'inst-cli', '--request-id', 'req-logs']);
    assert.equal(printed.code, 0, printed.stderr);
    const lines = printed.stdout.trim().split('\n');
    assert.equal(lines.length, 3);
    assert.match(lines[0]!, /^\S+Z WARN {2}\(req-logs\) first$/);
    const json = JSON.parse((await cli(['logs', 'inst-cli', '--request-id', 'req-logs', '--limit', '1', '--json'])).stdout) as { records: { message: string }[] };
    assert.deepEqual(
      json.records.map((r) => r.message),
      ['third'],
    );

    const tail = startCli(['logs', 'inst-cli', '--follow', '--limit', '2', '--request-id', 'req-logs'], baseEnv());
    try {
      await tail.line(/ third$/);
      assert.ok(tail.lines.some((l) => / second$/.test(l)));
      assert.ok(!tail.lines.some((l) => / first$/.test(l)), 'the backlog is the newest 2');
      await execute(svc, '/log', { query: { level: 'info', msg: 'fourth' }, envelope: ctx('req-logs') });
      assert.match((await tail.line(/ fourth$/))[0], / fourth$/);
    } finally {
      await tail.stop();
    }
    const badLimit = await cli(['logs', 'inst-cli', '--limit', 'lots']);
    assert.equal(badLimit.code, 1);
  });

  test('tenant-data clients replaces what cap:client.read returns', async () => {
    writeFileSync(join(files, 'clients.json'), JSON.stringify([{ client_id: 'c-1', client_name: 'Acme' }]));
    const put = await cli(['tenant-data', 'clients', 'tenant-cli', join(files, 'clients.json')]);
    assert.equal(put.code, 0, put.stderr);
    const read = await execute(svc, '/client', { query: { id: 'c-1' }, envelope: ctx('req-client') });
    assert.equal((guestJson(read.json) as { ok: { clientName: string } }).ok.clientName, 'Acme');
    writeFileSync(join(files, 'bad.json'), JSON.stringify([{ client_id: 'c-1' }]));
    const bad = await cli(['tenant-data', 'clients', 'tenant-cli', join(files, 'bad.json')]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /^alga-runner: invalid_request: /m);
  });

  test('publish of a bare .wasm says to pack first and uploads nothing', async () => {
    const wasm = join(files, 'main.wasm');
    writeFileSync(wasm, exampleBytes('kitchen-sink'));
    const before = (await admin<{ extensions: unknown[] }>(svc, 'GET', '/admin/v1/extensions')).json.extensions.length;
    const out = await cli(['publish', wasm]);
    assert.equal(out.code, 1);
    assert.match(out.stderr, /bare WebAssembly component, not a bundle: run `alga-runner pack <dir>` first/);
    assert.equal((await admin<{ extensions: unknown[] }>(svc, 'GET', '/admin/v1/extensions')).json.extensions.length, before);
  });

  test('RUNNER_URL and RUNNER_ADMIN_TOKEN without a profile; an unreachable runner is a clear error', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'cli-config-empty-'));
    const none = await cli(['installs', 'list'], cleanEnv({ XDG_CONFIG_HOME: empty }));
    assert.equal(none.code, 1);
    assert.match(none.stderr, /no runner URL: pass --url, set RUNNER_URL/);
    const byEnv = await cli(['installs', 'list', '--json'], cleanEnv({ XDG_CONFIG_HOME: empty, RUNNER_URL: svc.url, RUNNER_ADMIN_TOKEN: svc.adminToken }));
    assert.equal(byEnv.code, 0, byEnv.stderr);
    assert.ok((JSON.parse(byEnv.stdout) as { installs: unknown[] }).installs.length >= 1);
    const down = await cli(['installs', 'list', '--url', 'http://127.0.0.1:9', '--token', 't']);
    assert.equal(down.code, 1);
    assert.match(down.stderr, /^alga-runner: cannot reach http:\/\/127\.0\.0\.1:9: /m);
  });
});
