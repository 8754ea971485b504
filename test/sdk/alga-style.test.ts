/**
 * examples/alga-style, written for Alga's `@alga-psa/extension-runtime` and built against Alga's
 * world with that package resolved to the SDK's shape of it, runs in the engine unchanged.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { examplePath } from '../../src/examples.js';
import { startTestRunner } from '../../packages/sdk/src/testing.js';

it("a guest written for Alga's SDK: context, clients, the normalised user, emptyResponse, a denied call", async () => {
  const runner = await startTestRunner({
    component: examplePath('alga-style'),
    grants: ['cap:client.read'],
    tenant: 't-9',
    clients: [
      { clientId: 'a', clientName: 'Alpha' },
      { clientId: 'b', clientName: 'Beta' },
      { clientId: 'c', clientName: 'Gamma' },
    ],
    user: { userId: 'u-1', userEmail: 'u@example.com', userName: 'Una', userType: 'msp', clientName: 'MSP', additionalFields: { locale: 'nb-NO' } },
  });
  try {
    assert.deepEqual((await runner.get('/whoami')).json(), { tenant: 't-9', extension: 'local' });
    assert.deepEqual((await runner.get('/clients')).json(), { names: ['Alpha', 'Beta'] });
    const user = (await runner.get('/user')).json<{ userName: string; additionalFields: Record<string, string> }>();
    assert.equal(user.userName, 'Una');
    assert.deepEqual(user.additionalFields, { locale: 'nb-NO' });
    const deleted = await runner.delete('/anything');
    assert.equal(deleted.status, 204);
    assert.equal(deleted.body.byteLength, 0);
    assert.equal((await runner.get('/nope')).status, 404);
  } finally {
    await runner.close();
  }
  const denied = await startTestRunner({ component: examplePath('alga-style'), grants: [] });
  try {
    const res = await denied.get('/clients');
    assert.equal(res.status, 403);
    assert.deepEqual(res.json(), { error: 'not-allowed' });
  } finally {
    await denied.close();
  }
});
