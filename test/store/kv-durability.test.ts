import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { backends } from './backends.js';

// fewer than a list page (100), so one list() call sees every stored entry
const KILL_AFTER = 60;
const WRITER = fileURLToPath(new URL('./fixtures/kv-write-loop.js', import.meta.url));
const CONCURRENT_WRITER = fileURLToPath(new URL('./fixtures/kv-write-concurrent.js', import.meta.url));
const WRITERS = 8;
// acks before the kill: enough that many commits carried several writes
const CONCURRENT_KILL_AFTER = 90;

/** Run the write loop, SIGKILL it after `killAfter` acks, and return every ack it printed. */
async function writeUntilKilled(storeOptions: object, killAfter: number): Promise<{ acked: number[]; signal: NodeJS.Signals | null }> {
  const child = spawn(process.execPath, [WRITER], {
    env: { ...process.env, STORE_OPTIONS: JSON.stringify(storeOptions) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const acked: number[] = [];
  const lines = createInterface({ input: child.stdout });
  lines.on('line', (line) => {
    const match = /^ack (\d+)$/.exec(line);
    if (!match) return;
    acked.push(Number(match[1]));
    if (acked.length === killAfter) child.kill('SIGKILL');
  });
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.on('close', (c, s) => resolve([c, s])));
  assert.equal(code, null, 'the writer must not have exited on its own');
  return { acked, signal };
}

const installOf = (durabilityTaker: boolean) => (durabilityTaker ? 'durable-concurrent-taker' : 'durable-concurrent');

/** Run WRITERS concurrent write loops, SIGKILL them after `killAfter` acks in all, and return the acks as [writer, index]. */
async function writeConcurrentlyUntilKilled(
  storeOptions: object,
  killAfter: number,
  durabilityTaker = false,
): Promise<{ acked: [number, number][]; commits: number[]; signal: NodeJS.Signals | null }> {
  const child = spawn(process.execPath, [CONCURRENT_WRITER], {
    env: { ...process.env, STORE_OPTIONS: JSON.stringify(storeOptions), WRITERS: String(WRITERS), DURABILITY_TAKER: durabilityTaker ? '1' : '0', KV_INSTALL: installOf(durabilityTaker) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const acked: [number, number][] = [];
  const commits: number[] = [];
  const lines = createInterface({ input: child.stdout });
  lines.on('line', (line) => {
    const commit = /^commit (\d+)$/.exec(line);
    if (commit) {
      commits.push(Number(commit[1]));
      return;
    }
    const match = /^ack (\d+) (\d+)$/.exec(line);
    if (!match) return;
    // every ack follows the commit that carried it: the acks so far fit in the commits told so far
    if (acked.length + 1 > commits.reduce((a, b) => a + b, 0)) child.kill('SIGKILL');
    acked.push([Number(match[1]), Number(match[2])]);
    if (acked.length === killAfter) child.kill('SIGKILL');
  });
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.on('close', (c, s) => resolve([c, s])));
  assert.equal(code, null, 'the writer must not have exited on its own');
  return { acked, commits, signal };
}

for (const backend of backends('kvdurable')) {
  describe(`kv durability (${backend.name})`, { skip: backend.skip }, () => {
    after(() => backend.dispose());

    it('a writer killed with SIGKILL mid-loop loses no write it acknowledged', async () => {
      const { acked, signal } = await writeUntilKilled(backend.options, KILL_AFTER);
      assert.equal(signal, 'SIGKILL');
      assert.ok(acked.length >= KILL_AFTER, `only ${acked.length} acks before the kill`);
      assert.deepEqual(
        acked,
        acked.map((_, i) => i),
      );

      const store = await backend.open();
      try {
        for (const i of acked) {
          const got = await store.kv.get('durable-install', 'loop', `k${i}`);
          assert.ok(got.kind === 'ok', `acknowledged write k${i} is missing after the crash`);
          assert.equal(new TextDecoder().decode(got.entry.value), `v${i}`);
        }
        // At most the one write in flight at the kill may have landed unacknowledged, and the
        // counters agree with the entries (no torn transaction).
        const all = await store.kv.list('durable-install', 'loop');
        assert.ok(all.kind === 'ok');
        const stored = all.entries.length;
        assert.ok(stored === acked.length || stored === acked.length + 1, `${stored} entries for ${acked.length} acks`);
        const usage = await store.kv.usage('durable-install');
        assert.equal(usage.namespaces, 1);
        const expectedBytes = Array.from({ length: stored }, (_, i) => `v${i}`.length).reduce((a, b) => a + b, 0);
        assert.equal(usage.totalBytes, expectedBytes);
      } finally {
        await store.close();
      }
    });

    for (const taker of [false, true])
      it(`${WRITERS} concurrent writers killed with SIGKILL lose no acknowledged write, and the counters agree with the entries${taker ? ' (each answered at its commit and acknowledged once durable, as an execution does)' : ''}`, async () => {
        const { acked, commits, signal } = await writeConcurrentlyUntilKilled(backend.options, CONCURRENT_KILL_AFTER, taker);
        assert.equal(signal, 'SIGKILL');
        // no write acknowledged before a commit carried it (the child was killed at the first such ack)
        assert.ok(acked.length <= commits.reduce((a, b) => a + b, 0), `${acked.length} acks after commits of ${commits.reduce((a, b) => a + b, 0)} writes`);
        // the writers were in flight together: commits carried several writes
        assert.ok(
          commits.some((n) => n > 1),
          `every commit carried one write (${commits.join(', ')})`,
        );
        assert.ok(acked.length >= CONCURRENT_KILL_AFTER, `only ${acked.length} acks before the kill`);
        // each loop acknowledges its writes in order
        const perWriter = Array.from({ length: WRITERS }, (_, w) => acked.filter(([writer]) => writer === w).map(([, i]) => i));
        for (const indexes of perWriter)
          assert.deepEqual(
            indexes,
            indexes.map((_, i) => i),
          );

        const store = await backend.open();
        try {
          for (const [w, i] of acked) {
            const got = await store.kv.get(installOf(taker), 'loop', `w${w}-${i}`);
            assert.ok(got.kind === 'ok', `acknowledged write w${w}-${i} is missing after the crash`);
            assert.equal(new TextDecoder().decode(got.entry.value), `v${w}-${i}`);
          }
          const stored: string[] = [];
          for (let cursor: string | undefined; ;) {
            const page = await store.kv.list(installOf(taker), 'loop', cursor);
            assert.ok(page.kind === 'ok');
            if (page.entries.length === 0) break;
            stored.push(...page.entries.map((e) => e.key));
            cursor = page.entries.at(-1)!.key;
          }
          // beyond the acks, at most each loop's one write in flight at the kill landed
          assert.ok(stored.length >= acked.length && stored.length <= acked.length + WRITERS, `${stored.length} entries for ${acked.length} acks`);
          for (const key of stored) {
            const [w, i] = key.slice(1).split('-').map(Number) as [number, number];
            assert.ok(i <= perWriter[w]!.length, `${key} is beyond writer ${w}'s next write`);
          }
          const usage = await store.kv.usage(installOf(taker));
          assert.equal(usage.namespaces, 1);
          assert.equal(
            usage.totalBytes,
            stored.reduce((a, key) => a + `v${key.slice(1)}`.length, 0),
          );
        } finally {
          await store.close();
        }
      });
  });
}
