/**
 * The advice a component importing wasi:http is refused with (src/engine/component-check.ts) names
 * build flags that exist and work: the componentize-js CLI is run with exactly the advised flags on
 * the default-flags example's source (which, built with the defaults, imports wasi:http), and the
 * component it writes has no wasi:http import; `jco componentize` accepts the same flags.
 *
 * On this machine the componentize-js CLI cannot read its `--wit` file (its WASI file access fails
 * with "os error 44"; its API with the WIT as text works — scripts/build-examples.mjs does that).
 * So the CLI runs with a module hook that gives the WIT to componentize-js as text: everything
 * else — the CLI's own option parsing and the options it passes on — is the real CLI's.
 * One build: ~40 s and ~850 MB.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { componentWit } from '@bytecodealliance/jco-transpile/wasm-tools';
import ts from 'typescript';
import { checkComponentShape, DISABLE_FEATURE_ARGS, DISABLED_WASI_FEATURES } from '../../src/engine/component-check.js';
import { exampleBytes, repoRoot } from '../support/runtime.js';

const componentizeJs = pathToFileURL(join(repoRoot, 'node_modules', '@bytecodealliance', 'componentize-js', 'src', 'componentize.js')).href;
const componentizeCli = join(repoRoot, 'node_modules', '@bytecodealliance', 'componentize-js', 'src', 'cli.js');
const jcoCli = join(repoRoot, 'node_modules', '@bytecodealliance', 'jco', 'dist', 'jco.js');

/** A hook for the CLI's `import './componentize.js'`: the real componentize, with the WIT file read here and passed as text. */
function writeWitAsTextHook(dir: string): string {
  const wrapper = join(dir, 'componentize-wrapper.mjs');
  writeFileSync(
    wrapper,
    `import { readFileSync, writeFileSync } from 'node:fs';
import { componentize as real, DEFAULT_FEATURES } from ${JSON.stringify(componentizeJs)};
export { DEFAULT_FEATURES };
export function componentize(opts) {
  const { witPath, ...rest } = opts;
  writeFileSync(${JSON.stringify(join(dir, 'cli-options.json'))}, JSON.stringify({ disableFeatures: opts.disableFeatures ?? null }));
  return real({ ...rest, witWorld: readFileSync(witPath, 'utf8') });
}
`,
  );
  const hooks = join(dir, 'hooks.mjs');
  writeFileSync(
    hooks,
    `export async function resolve(specifier, context, next) {
  if (specifier === './componentize.js' && context.parentURL?.endsWith('/componentize-js/src/cli.js')) return { url: ${JSON.stringify(pathToFileURL(wrapper).href)}, shortCircuit: true };
  return next(specifier, context);
}
`,
  );
  const register = join(dir, 'register.mjs');
  writeFileSync(register, `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(hooks).href)});\n`);
  return register;
}

function defaultFlagsSource(dir: string): string {
  const source = readFileSync(join(repoRoot, 'examples', 'default-flags', 'src', 'index.ts'), 'utf8');
  const js = ts.transpileModule(source, { compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext } }).outputText;
  const path = join(dir, 'index.js');
  writeFileSync(path, js);
  return path;
}

test('the wasi:http refusal advises the -d flags of componentize-js and jco, and the API option', async () => {
  const checked = await checkComponentShape(exampleBytes('default-flags'));
  assert.equal(checked.kind, 'err');
  const message = checked.kind === 'err' ? checked.problem.message : '';
  assert.deepEqual(DISABLE_FEATURE_ARGS, ['-d', 'http', '-d', 'fetch-event']);
  assert.ok(message.includes(`componentize-js … -d http -d fetch-event`), message);
  assert.ok(message.includes(`jco componentize … -d http -d fetch-event`), message);
  assert.ok(message.includes(`disableFeatures ['http', 'fetch-event']`), message);
  assert.doesNotMatch(message, /--disable-feature/);
});

test('the componentize-js CLI run with the advised flags builds a component without any wasi:http import', { timeout: 300_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'build-advice-'));
  try {
    const register = writeWitAsTextHook(dir);
    const out = join(dir, 'out.wasm');
    const run = spawnSync(
      process.execPath,
      ['--import', pathToFileURL(register).href, componentizeCli, defaultFlagsSource(dir), '--wit', join(repoRoot, 'wit', 'world.wit'), '-n', 'runner', '-o', out, ...DISABLE_FEATURE_ARGS],
      { encoding: 'utf8', timeout: 280_000 },
    );
    assert.equal(run.status, 0, `componentize-js failed:\n${run.stderr}`);
    // the CLI parsed the advised flags into the features the API is told to leave out
    assert.deepEqual(JSON.parse(readFileSync(join(dir, 'cli-options.json'), 'utf8')), { disableFeatures: [...DISABLED_WASI_FEATURES] });
    const bytes = readFileSync(out);
    const wit = await componentWit(bytes);
    assert.doesNotMatch(wit, /import wasi:http\//);
    const shape = await checkComponentShape(bytes);
    assert.equal(shape.kind, 'ok', shape.kind === 'err' ? shape.problem.message : '');
    if (shape.kind === 'ok') assert.ok(shape.shape.imports.every((i) => !i.startsWith('wasi:http/')));
    // the same source with the default features imports wasi:http: the flags are what removed it
    assert.match(await componentWit(exampleBytes('default-flags')), /import wasi:http\//);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('both CLIs accept the advised flags, and refuse the --disable-feature flag advised before', () => {
  const dir = mkdtempSync(join(tmpdir(), 'build-advice-'));
  try {
    const source = join(dir, 'index.js');
    writeFileSync(source, 'export function handler() {}\n');
    // a WIT path that does not exist: a run that gets past option parsing stops there, before any build
    const missingWit = join(dir, 'missing.wit');
    const cli = (argv: string[]) => spawnSync(process.execPath, argv, { encoding: 'utf8', timeout: 60_000, cwd: dir });
    const commanderRefusal = /error: (unknown option|option .* argument .* is invalid)/;
    for (const [name, prefix] of [
      ['componentize-js', [componentizeCli]],
      ['jco componentize', [jcoCli, 'componentize']],
    ] as const) {
      const advised = cli([...prefix, source, '--wit', missingWit, '-o', join(dir, 'o.wasm'), ...DISABLE_FEATURE_ARGS]);
      assert.doesNotMatch(advised.stderr, commanderRefusal, `${name} refused the advised flags:\n${advised.stderr}`);
      assert.notEqual(advised.status, 0);
      const old = cli([...prefix, source, '--wit', missingWit, '-o', join(dir, 'o.wasm'), '--disable-feature', 'http']);
      assert.match(old.stderr, /error: unknown option '--disable-feature'/, `${name}:\n${old.stderr}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
