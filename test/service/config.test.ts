/** Configuration from flags and environment (src/service/config.ts): defaults and clear refusals. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, loadConfig } from '../../src/service/config.js';

test('RUNNER_WRITE_TRACKING: on by default, off with 0 or false, anything else refused by name', () => {
  assert.equal(loadConfig({}, {}).writeTracking, true);
  assert.equal(loadConfig({}, { RUNNER_WRITE_TRACKING: '' }).writeTracking, true);
  assert.equal(loadConfig({}, { RUNNER_WRITE_TRACKING: '1' }).writeTracking, true);
  assert.equal(loadConfig({}, { RUNNER_WRITE_TRACKING: '0' }).writeTracking, false);
  assert.equal(loadConfig({}, { RUNNER_WRITE_TRACKING: 'false' }).writeTracking, false);
  assert.throws(() => loadConfig({}, { RUNNER_WRITE_TRACKING: 'maybe' }), (e: unknown) => e instanceof ConfigError && /RUNNER_WRITE_TRACKING: must be 0, 1, true or false/.test(e.message));
});

test('RUNNER_HOT_WAIT_MS: 0.5 ms by default, 0 turns it off, a word or a negative number is refused by name', () => {
  assert.equal(loadConfig({}, {}).hotWaitMs, 0.5);
  assert.equal(loadConfig({}, { RUNNER_HOT_WAIT_MS: '0' }).hotWaitMs, 0);
  assert.equal(loadConfig({}, { RUNNER_HOT_WAIT_MS: '1.5' }).hotWaitMs, 1.5);
  assert.throws(() => loadConfig({}, { RUNNER_HOT_WAIT_MS: 'soon' }), (e: unknown) => e instanceof ConfigError && /RUNNER_HOT_WAIT_MS: must be a number/.test(e.message));
  assert.throws(() => loadConfig({}, { RUNNER_HOT_WAIT_MS: '-1' }), (e: unknown) => e instanceof ConfigError && /RUNNER_HOT_WAIT_MS: must be 0 or more/.test(e.message));
});
