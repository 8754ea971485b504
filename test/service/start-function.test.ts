/**
 * A component whose core start function never returns (examples/wat/start-loop.wat): instantiating
 * it counts against the install's deadline, so the install is refused (install_not_runnable) and
 * nothing is saved, instead of the runner holding a worker for it.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { admin, startTestService, uploadExample, type ErrorBody, type TestService } from './harness.js';

let svc: TestService;
before(async () => {
  svc = await startTestService({ examples: ['wat-start-loop'] });
});
after(async () => svc.close());

test('an install whose start function never finishes is refused with install_not_runnable (timeout) and not saved', async () => {
  const ext = await uploadExample(svc, 'wat-start-loop', { name: 'start-loop' });
  const r = await admin<ErrorBody>(svc, 'POST', '/admin/v1/installs', { tenant_id: 'start-tenant', extension_id: ext.extension_id, limits: { timeout_ms: 300 } });
  assert.equal(r.status, 400);
  assert.equal(r.json.error.code, 'install_not_runnable');
  assert.equal(r.json.error.fault, 'timeout');
  assert.match(r.json.error.message, /did not finish instantiating .* within its 300 ms deadline/);
  const listed = await admin<{ installs: unknown[] }>(svc, 'GET', '/admin/v1/installs?tenant_id=start-tenant');
  assert.deepEqual(listed.json.installs, []);
});
