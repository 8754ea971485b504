/**
 * The error codes are part of the API: docs/errors.md must list exactly the codes of ERROR_CATALOG
 * with the same HTTP statuses, and every code a request can trigger must be asserted by one of the
 * service's black-box tests (the few that cannot be triggered here say why).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ERROR_CATALOG } from '../../src/service/errors.js';
import { repoRoot } from './harness.js';

/** `| \`code\` | status | meaning |` rows of the refusals table. */
function documentedCodes(): Map<string, number> {
  const text = readFileSync(join(repoRoot, 'docs', 'errors.md'), 'utf8');
  const section = text.slice(text.indexOf('## Refusals'), text.indexOf('## Guest faults'));
  assert.ok(section.length > 0, 'docs/errors.md has a "## Refusals" section before "## Guest faults"');
  const codes = new Map<string, number>();
  for (const m of section.matchAll(/^\| `([a-z_]+)` \| (\d{3}) \|/gm)) {
    assert.ok(!codes.has(m[1]!), `${m[1]} is listed twice`);
    codes.set(m[1]!, Number(m[2]));
  }
  return codes;
}

test('docs/errors.md lists exactly the catalog codes with their statuses', () => {
  const documented = documentedCodes();
  const catalog = new Map(Object.entries(ERROR_CATALOG).map(([code, entry]) => [code, entry.status]));
  assert.deepEqual([...documented.keys()].sort(), [...catalog.keys()].sort());
  for (const [code, status] of catalog) assert.equal(documented.get(code), status, `status of ${code}`);
});

/** Codes no black-box test here can trigger, and why. */
const NOT_TRIGGERED: Record<string, string> = {
  idempotency_wait_timeout: 'needs a duplicate to wait longer than the maximum execution time plus a lease plus 10 s',
  shutting_down: 'requests are served while draining (test/service/shutdown.test.ts); only work reaching the executor after every connection ended would get it',
  request_timeout: "needs a client to stall for Node's header timeout (60 s)",
  internal: 'a bug by definition',
  bundle_too_large: 'bundle uploads are tested with the bundle code (test/bundle)',
  signature_required: 'bundle signatures are tested with the bundle code (test/bundle)',
};

test('every catalog code a request can trigger is asserted by a service test', () => {
  const dir = join(repoRoot, 'test', 'service');
  const sources = readdirSync(dir)
    .filter((f) => f.endsWith('.test.ts') && f !== 'errors-doc.test.ts')
    .map((f) => readFileSync(join(dir, f), 'utf8'))
    .join('\n');
  const untested = Object.keys(ERROR_CATALOG).filter((code) => !(code in NOT_TRIGGERED) && !sources.includes(`'${code}'`));
  assert.deepEqual(untested, []);
  for (const code of Object.keys(NOT_TRIGGERED)) assert.ok(code in ERROR_CATALOG, `${code} is still a catalog code`);
});
