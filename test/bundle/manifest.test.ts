import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { endpointPathProblem, parseManifest, parseManifestJson } from '../../src/bundle/index.js';
import { manifest } from './fixtures.js';

describe('manifest', () => {
  it('accepts a full v2 manifest and normalises unprefixed capability names', () => {
    const parsed = parseManifest(manifest({ capabilities: ['http.fetch', 'cap:secrets.get'], events: [{ topic: 't', handler: 'h' }], sbom: 'sbom.json' }));
    assert.equal(parsed.kind, 'ok');
    assert.deepEqual(parsed.kind === 'ok' && parsed.manifest.capabilities, ['cap:http.fetch', 'cap:secrets.get']);
  });

  it('lists every problem with its path at once', () => {
    const parsed = parseManifest(
      manifest({
        version: 'v1.0',
        capabilities: ['cap:storage.kv', 'cap:root.shell'],
        colour: 'blue',
        api: {
          endpoints: [
            { method: 'GET', path: 'no-slash', handler: 'h' },
            { method: 'GET', path: '/a/../b', handler: 'h' },
            { method: 'POST', path: '/x/:id/:id', handler: 'h' },
            { method: 'GET', path: '/ok/:9bad', handler: 'h' },
          ],
        },
      }),
    );
    assert.equal(parsed.kind, 'err');
    const problems = parsed.kind === 'err' ? parsed.problems : [];
    const paths = problems.map((p) => p.path).sort();
    assert.deepEqual(paths, ['api.endpoints[0].path', 'api.endpoints[1].path', 'api.endpoints[2].path', 'api.endpoints[3].path', 'capabilities[1]', 'version'].sort());
    assert.match(problems.find((p) => p.path === 'capabilities[1]')?.message ?? '', /unknown capability 'cap:root\.shell'/);
    // an unknown key is no problem, only a warning (Alga drops unknown keys)
    assert.deepEqual(parsed.warnings, [{ path: 'colour', message: 'unknown key, ignored' }]);
  });

  it("tolerates unknown keys anywhere, as Alga's schema does: left out of the manifest, each reported as a warning with its path", () => {
    const parsed = parseManifest(
      manifest({
        colour: 'blue',
        ui: { type: 'iframe', entry: 'ui/index.html', size: 'large' },
        api: {
          endpoints: [
            { method: 'GET', path: '/status', handler: 'dist/main', schedulable: true },
            { method: 'POST', path: '/heartbeat', handler: 'dist/main', rateLimit: 5, auth: { scheme: 'none' } },
          ],
          version: 2,
        },
      }),
    );
    assert.equal(parsed.kind, 'ok', JSON.stringify(parsed));
    assert.deepEqual(
      parsed.warnings.map((w) => `${w.path}: ${w.message}`).sort(),
      ['api.endpoints[1].auth', 'api.endpoints[1].rateLimit', 'api.version', 'colour', 'ui.size'].map((p) => `${p}: unknown key, ignored`).sort(),
    );
    if (parsed.kind !== 'ok') return;
    assert.equal((parsed.manifest as Record<string, unknown>)['colour'], undefined, 'the unknown key is not kept');
    assert.deepEqual(parsed.manifest.api?.endpoints, [
      { method: 'GET', path: '/status', handler: 'dist/main', schedulable: true },
      { method: 'POST', path: '/heartbeat', handler: 'dist/main' },
    ]);
    assert.equal(parsed.manifest.ui?.entry, 'ui/index.html');
  });

  it('reads api.endpoints[].schedulable as a boolean, and still refuses a real problem beside an unknown key', () => {
    const parsed = parseManifest(manifest({ extra: 1, api: { endpoints: [{ method: 'GET', path: '/s', handler: 'h', schedulable: 'yes' }] } }));
    assert.equal(parsed.kind, 'err');
    assert.deepEqual(parsed.kind === 'err' && parsed.problems, [{ path: 'api.endpoints[0].schedulable', message: 'must be true or false' }]);
    assert.deepEqual(parsed.warnings, [{ path: 'extra', message: 'unknown key, ignored' }]);
    const clean = parseManifest(manifest());
    assert.deepEqual(clean.warnings, []);
  });

  it('reports missing required fields and bad JSON', () => {
    const missing = parseManifest({ name: 'com.a.b', runtime: 'wasm-js@1' });
    assert.equal(missing.kind, 'err');
    assert.deepEqual(missing.kind === 'err' && missing.problems, [
      { path: 'publisher', message: 'is required' },
      { path: 'version', message: 'is required' },
    ]);
    const broken = parseManifestJson('{"name":');
    assert.equal(broken.kind, 'err');
    assert.match(broken.kind === 'err' ? (broken.problems[0]?.message ?? '') : '', /not valid JSON/);
  });

  it('refuses duplicate endpoints (same shape) and duplicate capabilities', () => {
    const parsed = parseManifest(
      manifest({
        capabilities: ['cap:log.emit', 'cap:log.emit'],
        api: {
          endpoints: [
            { method: 'GET', path: '/a/:id', handler: 'h' },
            { method: 'GET', path: '/a/:name', handler: 'h' },
          ],
        },
      }),
    );
    assert.equal(parsed.kind, 'err');
    assert.deepEqual(parsed.kind === 'err' && parsed.problems.map((p) => p.path), ['capabilities[1]', 'api.endpoints[1]']);
  });

  it('keeps ui.entry under ui/ and paths safe', () => {
    const parsed = parseManifest(manifest({ ui: { type: 'iframe', entry: '../index.html' }, assets: ['/etc/passwd'] }));
    assert.equal(parsed.kind, 'err');
    assert.deepEqual(parsed.kind === 'err' && parsed.problems.map((p) => p.path).sort(), ['assets[0]', 'ui.entry']);
  });

  it('judges endpoint paths', () => {
    assert.equal(endpointPathProblem('/'), undefined);
    assert.equal(endpointPathProblem('/agreements/:id/lines'), undefined);
    assert.match(endpointPathProblem('/a/')!, /must not end/);
    assert.match(endpointPathProblem('/a//b')!, /empty segment/);
    assert.match(endpointPathProblem('/a/b c')!, /segment 'b c'/);
  });
});
