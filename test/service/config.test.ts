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
