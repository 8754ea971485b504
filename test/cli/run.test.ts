/** `alga-runner run` as a user runs it: a real process, JSON on stdout, exit codes (README.md "Command line"). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { examplePath } from '../support/runtime.js';
import { repoRoot, runCli, type CliResult } from '../support/cli-process.js';
import { packBundle } from '../../src/bundle/index.js';

// transpiled artifacts are cached per user; a private cache dir keeps this test independent
const cacheHome = mkdtempSync(join(tmpdir(), 'cli-run-cache-'));

function run(args: string[]): Promise<CliResult> {
  return runCli(['run', ...args], repoRoot, { ...process.env, XDG_CACHE_HOME: cacheHome });
}

test('runs one request and prints {status, headers, body}', async () => {
  const out = await run([examplePath('kitchen-sink'), '--path', '/echo?x=1', '--method', 'post', '-H', 'x-test: yes', '--body', 'hi', '--tenant', 't-cli']);
  assert.equal(out.code, 0, out.stderr);
  const printed = JSON.parse(out.stdout) as { status: number; headers: Record<string, string>; body: string };
  assert.equal(printed.status, 200);
  assert.equal(printed.headers['content-type'], 'application/json');
  const echo = JSON.parse(printed.body) as { method: string; url: string; body: string; headers: [string, string][] };
  assert.equal(echo.method, 'POST');
  assert.equal(echo.url, '/echo?x=1');
  assert.equal(echo.body, 'hi');
  assert.ok(echo.headers.some(([k, v]) => k === 'x-test' && v === 'yes'));
});

test('grants, secrets and config reach the guest; without --grant storage is denied', async () => {
  const put = await run([examplePath('kitchen-sink'), '--method', 'POST', '--path', '/kv/put', '--body', '{"ns":"n","key":"k","value":"v"}', '--grant', 'cap:storage.kv']);
  assert.equal(put.code, 0, put.stderr);
  assert.deepEqual(JSON.parse(JSON.parse(put.stdout).body), { ok: { namespace: 'n', key: 'k', value: 'v', revision: '1' } });
  const denied = await run([examplePath('kitchen-sink'), '--path', '/kv/get?ns=n&key=k']);
  assert.deepEqual(JSON.parse(JSON.parse(denied.stdout).body), { err: 'denied' });
  const secret = await run([examplePath('kitchen-sink'), '--path', '/secrets/get?key=token', '--grant', 'cap:secrets.get', '--secret', 'token=s3cr3t']);
  assert.deepEqual(JSON.parse(JSON.parse(secret.stdout).body), { ok: 's3cr3t' });
});

test('a body from @file; an empty body is left out', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cli-run-'));
  writeFileSync(join(dir, 'body.txt'), 'from a file');
  const out = await run([examplePath('kitchen-sink'), '--method', 'POST', '--path', '/echo', '--body', `@${join(dir, 'body.txt')}`]);
  assert.equal(JSON.parse(JSON.parse(out.stdout).body).body, 'from a file');
  const empty = await run([examplePath('wat-ok')]);
  assert.equal(empty.code, 0);
  assert.deepEqual(JSON.parse(empty.stdout), { status: 204, headers: {} });
});

test('a guest fault prints the error code and exits 1', async () => {
  const out = await run([examplePath('wat-trap')]);
  assert.equal(out.code, 1);
  const printed = JSON.parse(out.stdout) as { status: number; error: string };
  assert.equal(printed.status, 500);
  assert.equal(printed.error, 'guest_trap');
  const timeout = await run([examplePath('wat-loop'), '--timeout-ms', '200']);
  assert.equal(timeout.code, 1);
  assert.equal(JSON.parse(timeout.stdout).error, 'timeout');
});

test('bad input exits 2 with a clear message: missing file, not wasm, refused component, a UI-only bundle, bad header', async () => {
  const missing = await run(['/no/such/file.wasm']);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /cannot read \/no\/such\/file\.wasm/);
  const notWasm = await run([join(repoRoot, 'package.json')]);
  assert.equal(notWasm.code, 2);
  assert.match(notWasm.stderr, /neither a component nor a valid bundle/);
  const refused = await run([examplePath('wat-forbidden')]);
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /evil:net\/dial/);
  const uiOnly = await packBundle({
    manifestJson: JSON.stringify({ name: 'com.acme.hi', publisher: 'Acme', version: '0.1.0', runtime: 'wasm-js@1', ui: { type: 'iframe', entry: 'ui/index.html' } }),
    uiFiles: new Map([['ui/index.html', Buffer.from('<p>hi</p>')]]),
  });
  assert.equal(uiOnly.kind, 'ok');
  const uiOnlyFile = join(mkdtempSync(join(tmpdir(), 'cli-run-ui-only-')), 'bundle.tar.zst');
  if (uiOnly.kind === 'ok') writeFileSync(uiOnlyFile, uiOnly.value.bytes);
  const nothingToRun = await run([uiOnlyFile]);
  assert.equal(nothingToRun.code, 2);
  assert.match(nothingToRun.stderr, /UI-only bundle .*no component to run/);
  const header = await run([examplePath('wat-ok'), '-H', 'no-colon']);
  assert.equal(header.code, 2);
  assert.match(header.stderr, /a header must look like 'name:value'/);
});

test("the guest's stdout and stderr reach stderr as JSON log records with the tenant", async () => {
  const out = await run([examplePath('kitchen-sink'), '--path', '/env', '--tenant', 't-logs']);
  assert.equal(out.code, 0);
  const records = out.stderr
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { stream: string; tenant: string; message: string });
  assert.ok(records.some((r) => r.stream === 'stdout' && r.tenant === 't-logs'));
  assert.ok(records.some((r) => r.stream === 'stderr' && r.tenant === 't-logs'));
});

test('a response that could not be relayed as HTTP (status 101) is an invalid_response fault, as through the service', async () => {
  // wat-respond answers what its body describes: u16 status, u16 header count, then the body
  const dir = mkdtempSync(join(tmpdir(), 'cli-run-respond-'));
  const describe = (status: number) => {
    const head = Buffer.alloc(4);
    head.writeUInt16LE(status, 0);
    return head;
  };
  writeFileSync(join(dir, 'switch.bin'), describe(101));
  writeFileSync(join(dir, 'ok.bin'), describe(200));
  const refused = await run([examplePath('wat-respond'), '--method', 'POST', '--body', `@${join(dir, 'switch.bin')}`]);
  assert.equal(refused.code, 1, refused.stderr);
  const printed = JSON.parse(refused.stdout) as { status: number; error: string; message: string };
  assert.deepEqual([printed.status, printed.error], [500, 'invalid_response']);
  assert.match(printed.message, /status 101/);
  const ok = await run([examplePath('wat-respond'), '--method', 'POST', '--body', `@${join(dir, 'ok.bin')}`]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal((JSON.parse(ok.stdout) as { status: number }).status, 200);
});
