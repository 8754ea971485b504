// Runs the built component (dist/main.wasm: `npm run build` first) in alga-runner's real engine,
// with a throw-away store: `npm test`.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { startTestRunner } from '@alga-runner/sdk/testing';

const project = (path) => fileURLToPath(new URL(`../${path}`, import.meta.url));

describe('__NAME__', () => {
  let runner;
  before(async () => {
    runner = await startTestRunner({ component: project('dist/main.wasm'), manifest: project('manifest.json'), tenant: 'acme' });
  });
  after(() => runner?.close());

  it('greets the tenant', async () => {
    const res = await runner.get('/hello');
    assert.equal(res.status, 200);
    assert.match(res.json().message, /acme/);
  });

  it('keeps a note between requests', async () => {
    const created = await runner.post('/notes', { text: 'Call the customer back' });
    assert.equal(created.status, 201);
    const { id } = created.json();
    const read = await runner.get(`/notes/${id}`);
    assert.deepEqual(read.json(), { id, text: 'Call the customer back', createdBy: 'acme' });
    assert.ok(created.logs.some((line) => line.message === `note ${id} created`));
  });

  it('answers 400 without text and 404 for a note that is not there', async () => {
    assert.equal((await runner.post('/notes', {})).status, 400);
    assert.equal((await runner.get('/notes/999')).status, 404);
  });
});
