/**
 * `npm start` runs `alga-runner demo`: a fresh data dir, port 0, and the curl lines it prints must
 * work as printed (here with fetch), then SIGTERM stops it cleanly.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { seedArtifacts } from './harness.js';
import { cleanEnv, startCli } from './cli-process.js';

test('alga-runner demo --port 0 prints its URL, tokens and curl lines that work', { timeout: 60_000 }, async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'svc-demo-'));
  await seedArtifacts(dataDir, ['kitchen-sink']);
  const demo = startCli(['demo', '--port', '0', '--data-dir', dataDir], cleanEnv({ LOG_LEVEL: 'warn', RUNNER_WORKERS: '1' }));
  try {
    const url = (await demo.line(/alga-runner listening on (http:\/\/127\.0\.0\.1:(\d+))$/))[1]!;
    assert.doesNotMatch(url, /:0$/, 'the real port, not 0');
    const token = (await demo.line(/service token: (\S+)/))[1]!;
    const gatewayCurl = (await demo.line(/^\s+curl -s (http\S+\/api\/ext\/kitchen-sink\/clients)$/))[1]!;
    const executeCurl = await demo.line(/curl -s -X POST (\S+) -H 'content-type: application\/json' -H 'x-runner-service-token: (\S+)' -H 'x-alga-tenant: demo'/);
    const executeBody = (await demo.line(/^\s+-d '(.+)'$/))[1]!;
    assert.equal(executeCurl[2], token);

    const clients = await fetch(gatewayCurl);
    assert.equal(clients.status, 200);
    const listed = (await clients.json()) as { ok: { items: { clientName: string }[]; totalCount: number } };
    assert.ok(listed.ok.totalCount > 0, 'the demo tenant has seeded clients');
    assert.equal(listed.ok.items[0]!.clientName, 'Acme Dental Group');

    const executed = await fetch(executeCurl[1]!, { method: 'POST', headers: { 'content-type': 'application/json', 'x-runner-service-token': token, 'x-alga-tenant': 'demo' }, body: executeBody });
    assert.equal(executed.status, 200);
    const answer = (await executed.json()) as { status: number; body_b64: string };
    assert.equal(answer.status, 200);
    const ctx = (JSON.parse(Buffer.from(answer.body_b64, 'base64').toString('utf8')) as { ok: { tenantId: string } }).ok;
    assert.equal(ctx.tenantId, 'demo');
  } finally {
    const code = await demo.stop();
    assert.equal(code, 0, `demo exit code; output:\n${demo.lines.join('\n')}`);
    assert.ok(demo.lines.some((l) => /SIGTERM: draining/.test(l)));
    // a clean start: no deprecation or other process warning on the console
    assert.deepEqual(
      demo.lines.filter((l) => /Warning|DEP\d{3}/.test(l)),
      [],
    );
    rmSync(dataDir, { recursive: true, force: true });
  }
});
