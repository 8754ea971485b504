/** The install-time pipeline (src/engine/artifact-store.ts): shape checks, clear refusals, the disk cache. */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ArtifactStore, REWRITE_FORMAT, transpileComponent } from '../../src/engine/artifact-store.js';
import { leanAlgaImports, patchGlue } from '../../src/engine/glue-patches.js';
import { checkComponentShape } from '../../src/engine/component-check.js';
import { exampleBytes, createTestRuntime, bodyJson } from '../support/runtime.js';

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'pipeline-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

async function problemOf(bytes: Uint8Array) {
  const checked = await checkComponentShape(bytes);
  assert.equal(checked.kind, 'err');
  return checked.kind === 'err' ? checked.problem : null!;
}

test('garbage is not_wasm', async () => {
  assert.equal((await problemOf(new TextEncoder().encode('hello, not wasm'))).code, 'not_wasm');
  assert.equal((await problemOf(new Uint8Array())).code, 'not_wasm');
});

test('a core module is refused with advice to build a component', async () => {
  const core = Uint8Array.from([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]);
  const p = await problemOf(core);
  assert.equal(p.code, 'core_module');
  assert.match(p.message, /componentize-js/);
});

test('a truncated component is invalid_component', async () => {
  const bytes = exampleBytes('wat-ok').slice(0, 200);
  assert.equal((await problemOf(bytes)).code, 'invalid_component');
});

test('a handler of the wrong type is refused, naming what was found', async () => {
  const p = await problemOf(exampleBytes('wat-wrong-handler'));
  assert.equal(p.code, 'handler_type');
  assert.match(p.message, /func\(x: u32\) -> u32/);
});

test('an import outside alga:extension and the WASI allowlist is refused, naming the import', async () => {
  const p = await problemOf(exampleBytes('wat-forbidden'));
  assert.equal(p.code, 'forbidden_import');
  assert.match(p.message, /evil:net\/dial@0\.1\.0/);
});

test('wasi:sockets is refused at install, naming the import: a guest reaches the network only through alga:extension/http', async () => {
  const p = await problemOf(exampleBytes('wat-sockets'));
  assert.equal(p.code, 'forbidden_import');
  assert.match(p.message, /wasi:sockets\/(network|instance-network)@0\.2\.0/);
});

test('componentize-js default flags (wasi:http) are refused with the build flags to use', async () => {
  const p = await problemOf(exampleBytes('default-flags'));
  assert.equal(p.code, 'wasi_http_import');
  assert.match(p.message, /wasi:http\/(types|outgoing-handler)/);
  assert.match(p.message, /disableFeatures \['http', 'fetch-event'\]/);
});

test('the kitchen-sink and the WAT guests pass; filesystem imports are served with no preopens', async () => {
  const ok = await checkComponentShape(exampleBytes('kitchen-sink'));
  assert.equal(ok.kind, 'ok');
  if (ok.kind === 'ok') assert.ok(ok.shape.imports.includes('wasi:filesystem/preopens'));
  assert.equal((await checkComponentShape(exampleBytes('wat-exit'))).kind, 'ok');
});

test('prepare stores the output by content hash; a new store on the same dir reuses it without transpiling', async () => {
  const root = join(dir, 'artifacts');
  const first = await new ArtifactStore(root).prepare(exampleBytes('wat-ok'));
  assert.equal(first.kind, 'ok');
  if (first.kind !== 'ok') return;
  assert.equal(first.reused, false);
  assert.match(first.artifact.contentHash, /^sha256:[0-9a-f]{64}$/);
  assert.ok(existsSync(first.artifact.gluePath));
  const restarted = new ArtifactStore(root);
  const again = await restarted.prepare(exampleBytes('wat-ok'));
  assert.equal(again.kind === 'ok' && again.reused, true);
  assert.equal((await restarted.load(first.artifact.contentHash))?.contentHash, first.artifact.contentHash);
  // concurrent prepares of one component share the work and leave no temp dirs
  const bytes = exampleBytes('wat-counter');
  const [a, b] = await Promise.all([restarted.prepare(bytes), restarted.prepare(bytes)]);
  assert.equal(a.kind === 'ok' && b.kind === 'ok' && a.artifact.dir === b.artifact.dir, true);
  assert.deepEqual(
    readdirSync(root).filter((n) => n.includes('.tmp-')),
    [],
  );
});

test('an artifact whose cached output is unusable is rebuilt from the kept component', async () => {
  const root = join(dir, 'rebuild');
  const store = new ArtifactStore(root);
  const first = await store.prepare(exampleBytes('wat-ok'));
  assert.equal(first.kind, 'ok');
  if (first.kind !== 'ok') return;
  rmSync(join(first.artifact.dir, 'meta.json'));
  assert.equal(await store.load(first.artifact.contentHash), null);
  const rebuilt = await store.loadOrRebuild(first.artifact.contentHash);
  assert.equal(rebuilt?.contentHash, first.artifact.contentHash);
});

test('an artifact written by an older format is prepared again from its kept component', async () => {
  const store = new ArtifactStore(join(dir, 'old-format'));
  const first = await store.prepare(exampleBytes('wat-exit'));
  assert.equal(first.kind, 'ok');
  if (first.kind !== 'ok') return;
  assert.deepEqual(first.artifact.returnAreas, { 'wasi:cli/exit': { exit: 0 } });
  const metaPath = join(first.artifact.dir, 'meta.json');
  writeFileSync(metaPath, JSON.stringify({ ...(JSON.parse(readFileSync(metaPath, 'utf8')) as object), format: 1 }));
  assert.equal(await store.load(first.artifact.contentHash), null, 'the old format is not used as it is');
  const rebuilt = await store.loadOrRebuild(first.artifact.contentHash);
  assert.deepEqual(rebuilt?.returnAreas, { 'wasi:cli/exit': { exit: 0 } });
});

test("the rewritten code is kept beside the shared code in the current format; an older format's file is removed, never read", async () => {
  const store = new ArtifactStore(join(dir, 'rewrite-format'));
  const first = await store.prepare(exampleBytes('wat-counter'));
  assert.equal(first.kind, 'ok');
  if (first.kind !== 'ok') return;
  const { codeKey } = first.artifact.coreModules[0]!;
  const codeDir = join(dir, 'rewrite-format', 'code');
  const base = codeKey.replace(/^sha256:/, '');
  const older = join(codeDir, `${base}.cap64.w${REWRITE_FORMAT - 1}.wasm`);
  writeFileSync(older, "an older runner's rewrite");
  const rewritten = await store.cappedCode(codeKey, 64);
  assert.ok(WebAssembly.validate(rewritten as Uint8Array<ArrayBuffer>));
  const kept = readdirSync(codeDir).filter((n) => n.startsWith(`${base}.cap64.`));
  assert.deepEqual(kept, [`${base}.cap64.w${REWRITE_FORMAT}.wasm`], 'only the current format is kept');
  assert.ok(Buffer.from(await store.cappedCode(codeKey, 64)).equals(rewritten), 'the kept file is read back');
});

test('glue patches replace the WebAssembly.promising try/catch and the debug log', () => {
  const glue = `const _debugLog = (...args) => {\n    if (!globalThis?.process?.env?.JCO_DEBUG) { return; }\n    console.debug(...args);\n  };\n  try {\n    realloc0Async = WebAssembly.promising(exports1.cabi_realloc);\n  } catch(err) {\n    realloc0Async = exports1.cabi_realloc;\n  }`;
  const patched = patchGlue(glue);
  assert.doesNotMatch(patched, /try|catch|JCO_DEBUG/);
  assert.match(patched, /realloc0Async = exports1\.cabi_realloc; \/\/ no JSPI/);
  assert.doesNotMatch(patched, /WebAssembly\.promising/);
});

test('the glue patches apply to what this jco version really emits (a jco upgrade that breaks them fails here)', async () => {
  const store = new ArtifactStore(join(dir, 'glue'));
  const prepared = await store.prepare(exampleBytes('kitchen-sink'));
  assert.equal(prepared.kind, 'ok');
  if (prepared.kind !== 'ok') return;
  const glue = readFileSync(prepared.artifact.gluePath, 'utf8');
  assert.match(glue, /Async = exports\d+\.\w+; \/\/ no JSPI/);
  assert.doesNotMatch(glue, /WebAssembly\.promising/);
  assert.match(glue, /const _debugLog = \(\) => \{\};/);
  assert.doesNotMatch(glue, /JCO_DEBUG/);
});

/** `iface#fn` → [wiring statement, trampoline body] of every alga import in a glue */
function algaTrampolines(glue: string): Map<string, { wiring: string; body: string }> {
  const out = new Map<string, { wiring: string; body: string }>();
  for (const m of glue.matchAll(/_trampoline(\d+)\.fnName = '(alga:extension\/[^']+)';/g)) {
    const index = m[1]!;
    const start = glue.indexOf(`const _trampoline${index} = function(`);
    // a statement of many lines as jco writes it, of one once lean
    const wiring = new RegExp(`let trampoline${index} = [\\s\\S]*?(\\n {2}\\);|; // lean sync import)`).exec(glue)!;
    out.set(m[2]!, { body: glue.slice(start, m.index), wiring: wiring[0] });
  }
  return out;
}

test("sync alga imports skip jco's task bookkeeping in what this jco version emits, every one of them", async () => {
  const raw = new TextDecoder().decode((await transpileComponent(exampleBytes('kitchen-sink')))['guest.js']);
  const before = algaTrampolines(raw);
  // the kitchen-sink imports every function of every alga interface
  assert.ok(before.size >= 17, `only ${before.size} alga imports in the kitchen-sink's glue`);
  for (const [name, t] of before) {
    assert.match(t.body, /createNewCurrentTask/, `${name}: jco's trampoline makes a task`);
    assert.match(t.wiring, /_lowerImportBackwardsCompat|manuallyAsync/, `${name}: jco's wiring`);
  }

  const result = leanAlgaImports(raw);
  assert.deepEqual(result.leftAsEmitted, []);
  assert.deepEqual([...result.lean].sort(), [...before.keys()].sort());
  const after = algaTrampolines(result.glue);
  for (const [name, t] of after) {
    assert.match(t.wiring, /^let trampoline(\d+) = _trampoline\1; \/\/ lean sync import$/, name);
    assert.match(t.body, /^const _trampoline\d+ = function\([^)]*\) \{\n {4}_checkMayLeave\(0\);\n/, `${name}: the may-leave check comes first`);
    assert.doesNotMatch(t.body, /\b(task|subtask|parentTask|_withGlobalCurrentTaskMeta|_debugLog)\b/, name);
  }
  // everything else is as jco wrote it: the glue outside these trampolines and their wiring is unchanged
  const strip = (glue: string, trampolines: Map<string, { wiring: string; body: string }>) => {
    let out = glue;
    for (const t of trampolines.values()) out = out.replace(t.body, '').replace(t.wiring, '');
    return out;
  };
  assert.ok(strip(result.glue, after) === strip(raw, before), 'the glue outside the alga trampolines is unchanged');

  // a trampoline of another shape (here: one more task call) keeps jco's code and wiring; the rest still lean
  const secretsGet = before.get('alga:extension/secrets#get')!;
  const odd = raw.replace(secretsGet.body, secretsGet.body.replace('task.exit();', 'task.exit();\n    task.exit();'));
  const partial = leanAlgaImports(odd);
  assert.deepEqual(partial.leftAsEmitted, ['alga:extension/secrets#get']);
  assert.equal(partial.lean.length, before.size - 1);
  assert.equal(algaTrampolines(partial.glue).get('alga:extension/secrets#get')!.wiring, secretsGet.wiring);

  // and glue that would not compile after the edits is left entirely as emitted
  const broken = raw.replace('const _debugLog', 'const _debugLog = 1; const _debugLog');
  const unchanged = leanAlgaImports(broken);
  assert.equal(unchanged.glue, broken);
  assert.deepEqual(unchanged.lean, []);
});

test('the engine refuses to prepare a component importing a function no capability serves', async () => {
  const rt = await createTestRuntime();
  try {
    const prepared = await rt.engine.prepare(exampleBytes('wat-forbidden'));
    assert.equal(prepared.kind === 'err' && prepared.problem.code, 'forbidden_import');
    const hash = await rt.install('wat-ok');
    const out = await rt.run(hash, '/');
    assert.equal(out.kind === 'ok' && out.response.status, 204);
    // an unknown content hash is a clean fault, not a crash
    const missing = await rt.run(`sha256:${'0'.repeat(64)}`, '/');
    assert.equal(missing.kind === 'fault' && missing.code, 'not_prepared');
    assert.deepEqual(bodyJson(await rt.run(await rt.install('kitchen-sink'), '/counter')), { counter: 1 });
  } finally {
    await rt.close();
  }
});
