/**
 * wit/world.wit is the seed contract (test/fixtures/seed-contract.txt) with its generics restored: the same
 * interfaces, functions, types, fields, enum cases and world, names unchanged. The seed text lost
 * its `<...>` generics, so only names and structure are compared; the restored generics are
 * checked by the component tests (kitchen-sink is built against this WIT and calls every function).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createHash } from 'node:crypto';

const root = fileURLToPath(new URL('../../', import.meta.url));
const ours = readFileSync(`${root}wit/world.wit`, 'utf8');
const seed = readFileSync(`${root}test/fixtures/seed-contract.txt`, 'utf8');

interface Contract {
  interfaces: Map<string, string[]>;
  records: Map<string, string[]>;
  enums: Map<string, string[]>;
  worldImports: string[];
  worldExports: string[];
}

/**
 * Names only: generics dropped (the seed has none), `%` escapes removed. Our file's line comments
 * are dropped; the seed is one line with its doc comments inline, which the patterns never match.
 */
function contractOf(text: string, lineComments: boolean): Contract {
  const src = (lineComments ? text.replace(/\/\/[^\n]*/g, ' ') : text)
    .replace(/<[^<>]*(<[^<>]*>[^<>]*)*>/g, '')
    .replace(/%/g, '')
    // `use types.{...};` (ours) has braces of its own; it is plumbing, not contract
    .replace(/\buse\s+[^;]*;/g, '');
  const blocks = (kind: string) => {
    const out = new Map<string, string>();
    for (const m of src.matchAll(new RegExp(`\\b${kind}\\s+([a-z0-9-]+)\\s*\\{([^{}]*)\\}`, 'g'))) out.set(m[1]!, m[2]!);
    return out;
  };
  const interfaces = new Map([...blocks('interface')].map(([name, body]) => [name, [...body.matchAll(/([a-z0-9-]+)\s*:\s*func/g)].map((f) => f[1]!)]));
  interfaces.delete('types'); // ours only: WIT needs an interface for the shared types
  const records = new Map([...blocks('record')].map(([name, body]) => [name, [...body.matchAll(/([a-z0-9-]+)\s*:/g)].map((f) => f[1]!)]));
  const enums = new Map(
    [...blocks('enum')].map(([name, body]) => [
      name,
      body
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
    ]),
  );
  const world = /\bworld\s+runner\s*\{([^}]*)\}/.exec(src)?.[1] ?? '';
  const worldImports = [...world.matchAll(/import\s+([a-z0-9-]+)/g)].map((m) => m[1]!);
  const worldExports = [...world.matchAll(/export\s+([a-z0-9-]+)\s*:\s*func/g)].map((m) => m[1]!);
  return { interfaces, records, enums, worldImports, worldExports };
}

const a = contractOf(ours, true);
const b = contractOf(seed, false);

test('every interface of the seed, with the same functions in the same order', () => {
  assert.deepEqual([...a.interfaces.keys()].sort(), [...b.interfaces.keys()].sort());
  for (const [name, fns] of b.interfaces) assert.deepEqual(a.interfaces.get(name), fns, `interface ${name}`);
  assert.ok(b.interfaces.has('user'), 'the seed defines `user` and so do we');
});

test('every record with the same fields, every enum with the same cases', () => {
  assert.deepEqual([...a.records.keys()].sort(), [...b.records.keys()].sort());
  for (const [name, fields] of b.records) assert.deepEqual(a.records.get(name), fields, `record ${name}`);
  assert.deepEqual([...a.enums.keys()].sort(), [...b.enums.keys()].sort());
  for (const [name, cases] of b.enums) assert.deepEqual(a.enums.get(name), cases, `enum ${name}`);
});

test('the world imports and exports the same', () => {
  assert.deepEqual(a.worldImports, b.worldImports);
  assert.deepEqual(a.worldExports, ['handler']);
  assert.deepEqual(b.worldExports, ['handler']);
  assert.ok(a.interfaces.size >= 10 && b.records.size >= 14, 'the parser found the contract');
});

/**
 * wit/alga/world.wit is Alga PSA's current WIT (Nine-Minds/alga-psa, ee/runner/wit/extension-runner.wit
 * at commit 432f5f5887), byte for byte: pinned by its hash, and read here to show what it adds to
 * the seed. A change to it is a change of Alga's contract, made by copying Alga's file again.
 */
const ALGA_WIT_SHA256 = 'aac348634fe093748086ab624112943606b93b41e04f65cc1a400e5eea25db76';
const algaText = readFileSync(`${root}wit/alga/world.wit`, 'utf8');
const alga = contractOf(algaText, true);

test("wit/alga/world.wit is Alga's extension-runner.wit unchanged", () => {
  assert.equal(createHash('sha256').update(algaText).digest('hex'), ALGA_WIT_SHA256);
});

test("Alga's world: the seed's interfaces (some functions renamed) plus scheduler and invoicing, all imported", () => {
  assert.deepEqual([...alga.interfaces.keys()].sort(), [...a.interfaces.keys(), 'scheduler', 'invoicing'].sort());
  assert.deepEqual(alga.interfaces.get('scheduler'), ['list-schedules', 'get-schedule', 'create-schedule', 'update-schedule', 'delete-schedule', 'get-endpoints']);
  assert.deepEqual(alga.interfaces.get('invoicing'), ['create-manual-invoice']);
  assert.deepEqual(alga.interfaces.get('secrets'), ['get', 'list-keys']);
  // Alga's world imports `user` too (the seed's world only defines it)
  assert.deepEqual([...alga.worldImports].sort(), [...new Set([...a.worldImports, 'user', 'scheduler', 'invoicing'])].sort());
  assert.deepEqual(alga.enums.get('scheduler-error'), ['not-found', 'validation-failed', 'quota-exceeded', 'denied', 'internal']);
  // the user records are the seed's
  assert.deepEqual(alga.records.get('user-data'), a.records.get('user-data'));
  assert.deepEqual(alga.records.get('user-data-v2'), a.records.get('user-data-v2'));
});
