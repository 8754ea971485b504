/**
 * The example guests `npm run examples` builds (it runs before the tests): each component's
 * imports and exports, read back from the built bytes with wasm-tools, and the build cache.
 * What the guests *do* is tested through the engine (test/engine/**).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { componentWit } from '@bytecodealliance/jco-transpile/wasm-tools';
import { examplePath, examplesCacheDir } from '../../src/examples.js';

const repoRoot = join(examplesCacheDir, '..', '..');

const WORLD_INTERFACES = [
  'alga:extension/context',
  'alga:extension/secrets',
  'alga:extension/http',
  'alga:extension/storage',
  'alga:extension/logging',
  'alga:extension/ui-proxy',
  'alga:extension/user-v2',
  'alga:extension/clients',
  'alga:extension/services',
];
const HANDLER_EXPORT = 'export handler: func(request: execute-request) -> execute-response;';

interface WorldSummary {
  /** imported interfaces without their @version */
  imports: string[];
  exports: string[];
}

/** The `world root { ... }` section wasm-tools prints for a component, as import and export lists. */
async function worldOf(name: string): Promise<WorldSummary> {
  const path = examplePath(name);
  assert.ok(existsSync(path), `${path} is missing: run \`npm run examples\``);
  const wit = await componentWit(readFileSync(path));
  const start = wit.indexOf('world root {');
  assert.notEqual(start, -1, `no root world in the WIT of ${name}`);
  const lines = wit
    .slice(start, wit.indexOf('\n}', start))
    .split('\n')
    .map((l) => l.trim());
  return {
    imports: lines.filter((l) => l.startsWith('import ')).map((l) => l.slice('import '.length, -1).replace(/@[^@]+$/, '')),
    exports: lines.filter((l) => l.startsWith('export ')),
  };
}

test('kitchen-sink imports every interface of the world, exports handler, and no wasi:http', async () => {
  const world = await worldOf('kitchen-sink');
  for (const iface of WORLD_INTERFACES) assert.ok(world.imports.includes(iface), `kitchen-sink does not import ${iface}`);
  assert.deepEqual(world.exports, [HANDLER_EXPORT]);
  // Built with -d http fetch-event: clocks, random and stdio stay, wasi:http goes.
  for (const kept of ['wasi:clocks/wall-clock', 'wasi:clocks/monotonic-clock', 'wasi:random/random', 'wasi:cli/stdout', 'wasi:cli/stderr']) {
    assert.ok(world.imports.includes(kept), `kitchen-sink lost ${kept}`);
  }
  assert.deepEqual(
    world.imports.filter((i) => i.startsWith('wasi:http/')),
    [],
  );
});

/** Every interface Alga's world (wit/alga/world.wit, Alga's ee/runner/wit) has its guests import. */
const ALGA_WORLD_INTERFACES = [
  'alga:extension/context',
  'alga:extension/secrets',
  'alga:extension/http',
  'alga:extension/storage',
  'alga:extension/logging',
  'alga:extension/ui-proxy',
  'alga:extension/user',
  'alga:extension/user-v2',
  'alga:extension/scheduler',
  'alga:extension/invoicing',
  'alga:extension/clients',
  'alga:extension/services',
];

for (const name of ['alga-world', 'alga-style', 'alga-samples']) {
  test(`${name}, built against Alga's world, imports every interface of it, as guests componentized for Alga do`, async () => {
    const world = await worldOf(name);
    assert.deepEqual(world.imports.filter((i) => i.startsWith('alga:extension/') && i !== 'alga:extension/types').sort(), [...ALGA_WORLD_INTERFACES].sort());
    assert.deepEqual(world.exports, [HANDLER_EXPORT]);
  });
}

test('default-flags is built with componentize-js defaults: it imports wasi:filesystem and wasi:http', async () => {
  const world = await worldOf('default-flags');
  assert.ok(world.imports.includes('wasi:filesystem/preopens'));
  assert.ok(world.imports.includes('wasi:http/outgoing-handler'));
  assert.deepEqual(world.exports, [HANDLER_EXPORT]);
});

/** What WAT guests import besides the world's types (the rest import nothing). */
const WAT_IMPORTS: Record<string, string[]> = {
  'wat-exit': ['wasi:cli/exit'],
  'wat-forbidden': ['evil:net/dial'],
  'wat-huge-argument': ['alga:extension/logging'],
  'wat-log-flood': ['alga:extension/logging'],
  'wat-sockets': ['wasi:sockets/network', 'wasi:sockets/instance-network'],
  'wat-wasi-probe': ['wasi:cli/environment', 'wasi:io/error', 'wasi:io/streams', 'wasi:cli/stdin', 'wasi:filesystem/types', 'wasi:filesystem/preopens'],
};

test('every examples/wat/*.wat is built into a component exporting handler (wrong-handler: of the wrong type)', async () => {
  const sources = readdirSync(join(repoRoot, 'examples', 'wat')).filter((f) => f.endsWith('.wat'));
  for (const expected of ['counter', 'exit', 'forbidden', 'grow', 'loop', 'ok', 'sockets', 'trap', 'wasi-probe']) {
    assert.ok(sources.includes(`${expected}.wat`), `examples/wat/${expected}.wat is missing`);
  }
  for (const source of sources) {
    const name = `wat-${source.replace(/\.wat$/, '')}`;
    const world = await worldOf(name);
    if (name === 'wat-wrong-handler') {
      assert.deepEqual(world.exports, ['export handler: func(x: u32) -> u32;']);
      continue;
    }
    assert.deepEqual(world.exports, [HANDLER_EXPORT], `${name} exports`);
    const extra = world.imports.filter((i) => i !== 'alga:extension/types');
    assert.deepEqual(extra, WAT_IMPORTS[name] ?? [], `${name} imports`);
  }
});

test('a repeated build finds every guest cached', () => {
  const run = spawnSync(process.execPath, [join(repoRoot, 'scripts', 'build-examples.mjs')], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(run.status, 0, run.stderr);
  const lines = run.stdout.trim().split('\n');
  assert.ok(lines.length >= 9, `expected a line per guest, got:\n${run.stdout}`);
  for (const line of lines) assert.match(line, /^examples: \S+\s+cached\s+\d+ ms\s+\d+ bytes$/);
});

test('examplePath refuses names that are not example names', () => {
  assert.throws(() => examplePath('../package'), /not an example name/);
  assert.match(examplePath('kitchen-sink'), /[/\\]\.cache[/\\]examples[/\\]kitchen-sink\.wasm$/);
});
