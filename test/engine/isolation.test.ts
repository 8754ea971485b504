/**
 * Fresh-instance isolation against hostile guests: one WAT guest per kind of state a core module
 * can change (examples/wat/leak-*.wat). Each answers 200 when it finds its state as a new instance
 * has it and 409 when an earlier request's change is still there, then makes the change. Requests
 * alternate between two tenants on one worker, so a leak would carry one tenant's change into the
 * other's request.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createTestRuntime, exampleBytes, type TestRuntime } from '../support/runtime.js';
import { scanInstanceState } from '../../src/engine/instance-state.js';
import { transpileComponent } from '../../src/engine/artifact-store.js';

const CORPUS = ['leak-memory', 'leak-global', 'leak-table-set', 'leak-table-fill', 'leak-table-copy', 'leak-table-init', 'leak-table-grow', 'leak-elem-drop', 'leak-data-drop'] as const;
const REQUESTS = 8;

let rt: TestRuntime;
before(async () => {
  rt = await createTestRuntime({ workers: 1 });
});
after(async () => rt?.close());

for (const name of CORPUS) {
  test(`isolation: ${name} carries nothing from one request to the next, across two tenants`, async () => {
    const hash = await rt.install(`wat-${name}`);
    const statuses: string[] = [];
    for (let i = 0; i < REQUESTS; i++) {
      const tenant = i % 2 === 0 ? 'tenant-a' : 'tenant-b';
      const out = await rt.run(hash, '/', { tenant });
      statuses.push(out.kind === 'ok' ? `${tenant}:${out.response.status}` : `${tenant}:${out.code}`);
    }
    assert.deepEqual(
      statuses,
      Array.from({ length: REQUESTS }, (_, i) => `${i % 2 === 0 ? 'tenant-a' : 'tenant-b'}:200`),
    );
  });
}

/** The core module of a WAT example, as jco extracts it. */
async function coreModule(name: string): Promise<Uint8Array> {
  const files = await transpileComponent(exampleBytes(`wat-${name}`));
  const core = Object.entries(files).find(([file]) => file.endsWith('.core.wasm'));
  assert.ok(core, `no core module for ${name}`);
  return core[1];
}

test('instance-state scan: what each hostile module can change, read from its code', async () => {
  const facts = async (name: string) => scanInstanceState(await coreModule(name));
  assert.deepEqual(await facts('leak-memory'), { mutatesTables: false, unrestorable: null });
  for (const name of ['leak-table-set', 'leak-table-fill', 'leak-table-copy', 'leak-table-init', 'leak-table-grow']) {
    assert.deepEqual(await facts(name), { mutatesTables: true, unrestorable: null }, name);
  }
  assert.match((await facts('leak-data-drop')).unrestorable ?? '', /data\.drop/);
  assert.match((await facts('leak-elem-drop')).unrestorable ?? '', /elem\.drop/);
});

test('instance-state scan: a componentize-js guest needs no fallback (its modules are restorable)', async () => {
  const files = await transpileComponent(exampleBytes('kitchen-sink'));
  const cores = Object.entries(files).filter(([file]) => /\.core\d*\.wasm$/.test(file));
  assert.ok(cores.length > 1);
  for (const [file, bytes] of cores) assert.equal(scanInstanceState(bytes).unrestorable, null, file);
});

test('instance-state scan: an instruction it cannot decode makes the module unrestorable', () => {
  const module = Uint8Array.from([
    0x00,
    0x61,
    0x73,
    0x6d,
    0x01,
    0x00,
    0x00,
    0x00,
    0x01,
    0x04,
    0x01,
    0x60,
    0x00,
    0x00, // type: () -> ()
    0x03,
    0x02,
    0x01,
    0x00, // one function
    0x0a,
    0x07,
    0x01,
    0x05,
    0x00,
    0xff,
    0x00,
    0x00,
    0x0b, // body: 0xff (not an opcode)
  ]);
  assert.match(scanInstanceState(module).unrestorable ?? '', /instruction the runner cannot account for/);
});

test('a start function that never returns is cut off by the execution deadline, not after the loading grace', async () => {
  const hash = await rt.install('wat-start-loop');
  const out = await rt.run(hash, '/', { limits: { timeoutMs: 200 } });
  assert.equal(out.kind, 'fault');
  assert.equal(out.kind === 'fault' && out.code, 'timeout');
  // the loading grace (10 s) is the runner's; instantiation is the guest's and gets its 200 ms
  assert.ok(out.report.durationMs < 5_000, `took ${out.report.durationMs} ms`);
});
