/** nextCronTime: when a schedule of Alga's 5-field cron is next due, in its timezone. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nextCronTime } from '../../src/store/cron.js';

const at = (iso: string) => Date.parse(iso);
const next = (cron: string, tz: string, after: string) => {
  const t = nextCronTime(cron, tz, at(after));
  return t === null ? null : new Date(t).toISOString();
};

test('steps, lists and ranges in UTC; strictly after the given time, on a whole minute', () => {
  assert.equal(next('*/5 * * * *', 'UTC', '2026-12-07T04:00:00.000Z'), '2026-12-07T04:05:00.000Z');
  assert.equal(next('*/5 * * * *', 'UTC', '2026-12-07T04:03:27.120Z'), '2026-12-07T04:05:00.000Z');
  assert.equal(next('0,30 9-17 * * *', 'UTC', '2026-12-07T17:30:00.000Z'), '2026-12-08T09:00:00.000Z');
  assert.equal(next('15 2 1 * *', 'UTC', '2026-12-07T00:00:00.000Z'), '2027-01-01T02:15:00.000Z');
  assert.equal(next('0 12 * 2 *', 'UTC', '2026-12-07T00:00:00.000Z'), '2027-02-01T12:00:00.000Z');
});

test('day of week: 1-5 is Monday to Friday, 0 and 7 are Sunday', () => {
  // 2026-12-05 is a Saturday
  assert.equal(next('0 8 * * 1-5', 'UTC', '2026-12-05T00:00:00.000Z'), '2026-12-07T08:00:00.000Z');
  assert.equal(next('0 8 * * 0', 'UTC', '2026-12-05T00:00:00.000Z'), '2026-12-06T08:00:00.000Z');
  assert.equal(next('0 8 * * 7', 'UTC', '2026-12-05T00:00:00.000Z'), '2026-12-06T08:00:00.000Z');
});

test("local time of the schedule's timezone, across a DST change", () => {
  // 09:00 in Berlin is 08:00 UTC in winter and 07:00 UTC in summer
  assert.equal(next('0 9 * * *', 'Europe/Berlin', '2026-12-07T08:00:00.000Z'), '2026-12-08T08:00:00.000Z');
  assert.equal(next('0 9 * * *', 'Europe/Berlin', '2026-07-01T00:00:00.000Z'), '2026-07-01T07:00:00.000Z');
  // Berlin skips 02:00-03:00 on 2026-03-29: 02:30 that day does not exist, the next one is the 30th
  assert.equal(next('30 2 * * *', 'Europe/Berlin', '2026-03-28T12:00:00.000Z'), '2026-03-30T00:30:00.000Z');
  assert.equal(next('0 0 * * *', 'America/New_York', '2026-12-07T04:00:00.000Z'), '2026-12-07T05:00:00.000Z');
});

test('a cron naming no real date has no next time; a malformed one throws', () => {
  assert.equal(next('0 0 31 2 *', 'UTC', '2026-12-07T00:00:00.000Z'), null);
  assert.equal(next('0 0 29 2 *', 'UTC', '2026-12-07T00:00:00.000Z'), '2028-02-29T00:00:00.000Z');
  assert.throws(() => nextCronTime('99 * * * *', 'UTC', 0), /outside 0-59/);
  assert.throws(() => nextCronTime('*/0 * * * *', 'UTC', 0), /outside/);
  assert.throws(() => nextCronTime('0 0 * *', 'UTC', 0), /5 fields/);
  assert.throws(() => nextCronTime('0 0 * * *', 'Mars/Olympus', 0));
});
