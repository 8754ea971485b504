/**
 * Capability functions are typed by their WIT signatures (src/generated/wit/, from wit/ by
 * scripts/wit-types.mjs). This file is the type-level test: each `@ts-expect-error` line must fail
 * to compile, and tsc fails the build when one no longer does (an unused directive is an error).
 * The runtime test below only checks what the compiled helpers return.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { err, ok, value, type CapabilityFunction } from '../../src/capabilities/capability.js';
import { DIALECTS, serve, type DialectTable, type SeedInterfaces } from '../../src/capabilities/dialects.js';
import type { Interfaces as Alga } from '../../src/generated/wit/alga.js';

type Storage = SeedInterfaces['alga:extension/storage'];
type Fn<F> = CapabilityFunction<null, null, F>;
const bytes = new Uint8Array([1]);

// --- answers that fit the WIT compile -----------------------------------------------------------

const get: Fn<Storage['get']> = ({ args }) => (typeof args[0] === 'string' ? ok({ namespace: args[0], key: 'k', value: bytes, revision: 1n }) : err('missing'));
const put: Fn<Storage['put']> = () => err('conflict');
const remove: Fn<Storage['delete']> = () => ok(undefined);
const list: Fn<Storage['list']> = async () => ok([{ namespace: 'n', key: 'k', value: bytes }]);
const logInfo: Fn<SeedInterfaces['alga:extension/logging']['info']> = () => value(undefined);

// --- results: the error enum ------------------------------------------------------------------

// @ts-expect-error a misspelt error code (storage-error has `missing`)
const _misspelt: Fn<Storage['get']> = () => err('mising');

// @ts-expect-error another interface's error code (`not-allowed` is http-error's, not storage-error's)
const _foreign: Fn<Storage['put']> = () => err('not-allowed');

// @ts-expect-error an async function's error is checked too
const _asyncMisspelt: Fn<Storage['list']> = async () => err('denyed');

// --- results: the ok type ----------------------------------------------------------------------

// @ts-expect-error a misspelt field: storage-entry has `namespace`
const _wrongField: Fn<Storage['get']> = () => ok({ nmespace: 'n', key: 'k', value: bytes });

// @ts-expect-error a field of the wrong type: `revision` is a u64 (bigint), not a number
const _wrongFieldType: Fn<Storage['get']> = () => ok({ namespace: 'n', key: 'k', value: bytes, revision: 1 });

// @ts-expect-error `value` is a list<u8> (Uint8Array), not a string
const _wrongBytes: Fn<Storage['put']> = () => ok({ namespace: 'n', key: 'k', value: 'v' });

// @ts-expect-error a list where the WIT has a single entry
const _wrongShape: Fn<Storage['get']> = () => ok([{ namespace: 'n', key: 'k', value: bytes }]);

// @ts-expect-error a plain value where the WIT has a result
const _valueForResult: Fn<Storage['delete']> = () => value(undefined);

// @ts-expect-error an ok where the WIT returns a plain list (secrets.list)
const _okForValue: Fn<SeedInterfaces['alga:extension/secrets']['list']> = () => ok(['a']);

// @ts-expect-error secrets.list returns list<string>
const _wrongList: Fn<SeedInterfaces['alga:extension/secrets']['list']> = () => value([1, 2]);

// --- arguments: the right arity, each unknown until checked ---------------------------------------

// @ts-expect-error storage.get has two parameters
const _thirdArg: Fn<Storage['get']> = ({ args }) => (args[2] ? ok({ namespace: 'n', key: 'k', value: bytes }) : err('missing'));

// @ts-expect-error an argument is unknown until the module checks it
const _unchecked: Fn<Storage['get']> = ({ args }) => ok({ namespace: args[0], key: 'k', value: bytes });

// --- an interface: every function, its denied answer, its failure answer -------------------------------------------

const storage = serve<null, null, 'alga:extension/storage'>('alga:extension/storage', {
  functions: { get, put, delete: remove, list },
  denied: { get: err('denied'), put: err('denied'), delete: err('denied'), list: err('denied') },
  onFailure: err('internal'),
  delivery: { get: 'in-worker', list: 'in-worker' },
});

serve<null, null, 'alga:extension/storage'>('alga:extension/storage', {
  // @ts-expect-error `list` is missing
  functions: { get, put, delete: remove },
  denied: { get: err('denied'), put: err('denied'), delete: err('denied'), list: err('denied') },
});

serve<null, null, 'alga:extension/storage'>('alga:extension/storage', {
  functions: { get, put, delete: remove, list },
  // @ts-expect-error a denied answer outside storage-error
  denied: { get: err('not-allowed'), put: err('denied'), delete: err('denied'), list: err('denied') },
});

serve<null, null, 'alga:extension/storage'>('alga:extension/storage', {
  functions: { get, put, delete: remove, list },
  // @ts-expect-error `drop` answers nothing, which a function returning a result cannot
  denied: { get: 'drop', put: err('denied'), delete: err('denied'), list: err('denied') },
});

serve<null, null, 'alga:extension/storage'>('alga:extension/storage', {
  functions: { get, put, delete: remove, list },
  denied: { get: err('denied'), put: err('denied'), delete: err('denied'), list: err('denied') },
  // @ts-expect-error onFailure must be one of the interface's error cases
  onFailure: err('transport'),
});

serve<null, null, 'alga:extension/logging'>('alga:extension/logging', {
  functions: { info: logInfo, warn: logInfo, error: logInfo },
  denied: { info: 'drop', warn: 'drop', error: 'drop' },
});

// --- the dialect table -------------------------------------------------------------------------

const _table = DIALECTS.alga satisfies DialectTable<Alga>;

const _missing = {
  ...DIALECTS.alga,
  // @ts-expect-error storage.list-entries of Alga's dialect left unserved
  'alga:extension/storage': { get: 'get', put: 'put', delete: 'delete' },
} satisfies DialectTable<Alga>;

const _wrongImpl = {
  ...DIALECTS.alga,
  // @ts-expect-error list-entries cannot be served by `get` (other parameters, other answer)
  'alga:extension/storage': { get: 'get', put: 'put', delete: 'delete', listEntries: 'get' },
} satisfies DialectTable<Alga>;

test('the typed helpers build the same host results as before, and serve() adds every dialect name', async () => {
  assert.deepEqual(ok(1), { kind: 'ok', value: 1 });
  assert.deepEqual(ok(), { kind: 'ok', value: undefined });
  assert.deepEqual(err('denied'), { kind: 'err', code: 'denied' });
  assert.deepEqual(value(), { kind: 'value', value: undefined });
  assert.deepEqual(Object.keys(storage.functions).sort(), ['delete', 'get', 'list', 'listEntries', 'put']);
  assert.equal(storage.functions.listEntries, storage.functions.list);
  assert.deepEqual(storage.denied.listEntries, err('denied'));
  assert.deepEqual(storage.delivery, { get: 'in-worker', list: 'in-worker', listEntries: 'in-worker' });
  assert.deepEqual(storage.onFailure, err('internal'));
  const services = { log: () => {}, noteDenied: () => {}, signal: new AbortController().signal };
  const ctx = { requestId: 'r', tenantId: 't', extensionId: 'e', installId: 'i', versionId: 'v', contentHash: 'sha256:x', user: null, config: {} };
  assert.deepEqual(await storage.functions.get!({ args: ['n', 'k'], ctx, config: null, state: null, services }), ok({ namespace: 'n', key: 'k', value: bytes, revision: 1n }));
});
