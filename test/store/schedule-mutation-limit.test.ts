/**
 * The store scheduler's limit on schedule mutations (Alga's internal scheduler route: 10 create,
 * update or delete calls per install in a fixed one-minute window, the rest answered "Too many
 * requests, please try again later"), on SQLite and PostgreSQL, with a manual clock.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { backends, manualClock } from './backends.js';
import type { Store } from '../../src/store/index.js';
import { createStoreScheduler, type StoreScheduler } from '../../src/store/schedules.js';
import type { SchedulerScope } from '../../src/store/scheduler-model.js';

const hash = (c: string) => `sha256:${c.repeat(64)}`;
const LIMITED = { success: false, error: 'Too many requests, please try again later' };
const OTHER_SCHEDULE = '33333333-3333-4333-8333-333333333333';

for (const backend of backends('sched-limit')) {
  describe(`schedule mutation limit (${backend.name})`, { skip: backend.skip }, () => {
    const clock = manualClock();
    let store: Store;
    let scheduler: StoreScheduler;
    const logged: string[] = [];
    const scopes: Record<string, SchedulerScope> = {};

    const scope = (installId: string): SchedulerScope => scopes[installId]!;
    const create = (s: StoreScheduler, installId: string, minute = 0) => s.createSchedule(scope(installId), { endpoint: '/status', cron: `${minute} 3 * * *` });

    before(async () => {
      store = await backend.open();
      scheduler = createStoreScheduler(store.db, store.registry, { now: clock.now });
      const ext = await store.registry.ensureExtension({ name: 'limited', publisher: 'test' });
      const added = await store.registry.addVersion({
        extensionId: ext.id,
        version: '1.0.0',
        contentHash: hash('a'),
        manifest: { api: { endpoints: [{ method: 'GET', path: '/status', handler: 'dist/main' }] } },
      });
      assert.equal(added.kind, 'created');
      for (const tenant of ['t-a', 't-b', 't-c', 't-d']) {
        const made = await store.registry.createInstall({ tenantId: tenant, extensionId: ext.id, versionId: added.version.id, grants: [] });
        assert.equal(made.kind, 'created');
        scopes[tenant] = { tenantId: tenant, installId: made.install.id, versionId: added.version.id, user: null, log: (_level, message) => logged.push(message) };
        scopes[made.install.id] = scopes[tenant]!;
      }
    });
    after(async () => {
      await store?.close();
      await backend.dispose();
    });

    it("10 mutations a minute per install, whatever they are and whether they succeed; the 11th gets Alga's answer; reads are not counted", async () => {
      const a = scope('t-a').installId;
      const made = await create(scheduler, a);
      assert.equal(made.success, true);
      const id = made.scheduleId!;
      assert.deepEqual(await scheduler.updateSchedule(scope(a), id, { enabled: false, hasPayload: false }), { success: true });
      assert.deepEqual(await scheduler.deleteSchedule(scope(a), OTHER_SCHEDULE), { success: false, error: 'Schedule not found' }, 'a failed delete counts');
      assert.equal((await scheduler.createSchedule(scope(a), { endpoint: '/status', cron: '* * * * *' })).success, false, 'a refused create counts');
      assert.deepEqual(await scheduler.deleteSchedule(scope(a), 'not-a-uuid'), { success: false, error: 'Invalid scheduleId' }, 'an invalid id counts (Alga counts before parsing)');
      for (let i = 5; i < 10; i++) assert.equal((await create(scheduler, a, i)).success, true, `mutation ${i + 1}`);
      for (let i = 0; i < 5; i++) await scheduler.listSchedules(scope(a));
      await scheduler.getEndpoints(scope(a));

      assert.deepEqual(await create(scheduler, a, 11), LIMITED);
      assert.deepEqual(await scheduler.updateSchedule(scope(a), id, { enabled: true, hasPayload: false }), LIMITED);
      assert.deepEqual(await scheduler.deleteSchedule(scope(a), id), LIMITED);
      assert.equal((await scheduler.listSchedules(scope(a))).ok, true, 'reads still answer');
      assert.equal((await scheduler.listInstallSchedules(a)).length, 6, 'nothing refused was kept');
      assert.ok(
        logged.some((m) => m.includes('Too many requests') && m.includes('at most 10')),
        'the reason is in the install log',
      );

      assert.equal((await create(scheduler, scope('t-b').installId)).success, true, 'another install has its own window');

      clock.advance(60_000);
      assert.deepEqual(await create(scheduler, a, 12), LIMITED, 'the window is a minute long (Alga: more than 60 000 ms since it opened)');
      clock.advance(1);
      assert.deepEqual(await scheduler.deleteSchedule(scope(a), id), { success: true }, 'a new window opens at the next call after it');
      for (let i = 1; i < 10; i++) assert.equal((await create(scheduler, a, 20 + i)).success, true);
      assert.deepEqual(await create(scheduler, a, 40), LIMITED);
    });

    it('every scheduler over the same store counts in the same window (replicas), and concurrent calls never pass the limit together', async () => {
      const c = scope('t-c').installId;
      const replica = createStoreScheduler(store.db, store.registry, { now: clock.now });
      const answers = await Promise.all(Array.from({ length: 16 }, (_, i) => create(i % 2 === 0 ? scheduler : replica, c, i)));
      assert.equal(answers.filter((r) => r.success).length, 10);
      assert.deepEqual(
        answers.filter((r) => !r.success),
        Array.from({ length: 6 }, () => LIMITED),
      );
    });

    it('RUNNER_SCHEDULE_MUTATIONS_PER_MINUTE: another limit, or 0 for none', async () => {
      const d = scope('t-d').installId;
      const three = createStoreScheduler(store.db, store.registry, { now: clock.now, mutationsPerMinute: 3 });
      for (let i = 0; i < 3; i++) assert.equal((await create(three, d, i)).success, true);
      assert.deepEqual(await create(three, d, 3), LIMITED);
      const unlimited = createStoreScheduler(store.db, store.registry, { now: clock.now, mutationsPerMinute: 0 });
      for (let i = 4; i < 20; i++) assert.equal((await create(unlimited, d, i)).success, true);
    });
  });
}
