/**
 * Install-time checks of a component's shape: is it a component, does it export
 * `handler` with the world's type, and does it import only what we serve.
 */
import { componentWit } from '@bytecodealliance/jco-transpile/wasm-tools';
import { binaryKind } from './wasm-binary.js';
import { ALLOWED_WASI_INTERFACES } from './guest/wasi.js';
import { stripVersion } from './interface-name.js';

export type ComponentProblem =
  | { code: 'not_wasm'; message: string }
  | { code: 'core_module'; message: string }
  | { code: 'invalid_component'; message: string }
  | { code: 'missing_handler'; message: string }
  | { code: 'handler_type'; message: string }
  | { code: 'forbidden_import'; message: string; import: string }
  | { code: 'wasi_http_import'; message: string; import: string }
  | { code: 'unknown_function'; message: string; import: string };

export interface ComponentShape {
  /** imported interfaces without version, e.g. `alga:extension/storage`, `wasi:io/poll` */
  imports: string[];
}

/** The WASI features to leave out of a build: clocks, random and stdio stay; wasi:http goes. */
export const DISABLED_WASI_FEATURES = ['http', 'fetch-event'] as const;

/**
 * The command-line flags that do it, for both the componentize-js CLI and `jco componentize`
 * (`-d, --disable <feature...>` in both). One `-d` per feature: a variadic `--disable http
 * fetch-event` would also swallow a source path written after it.
 */
export const DISABLE_FEATURE_ARGS: readonly string[] = DISABLED_WASI_FEATURES.flatMap((f) => ['-d', f]);

/** Build flags that keep clocks/random/stdio and drop wasi:http (see README, "Building extensions"). */
export const RECOMMENDED_BUILD_FLAGS = `componentize-js with disableFeatures [${DISABLED_WASI_FEATURES.map((f) => `'${f}'`).join(', ')}] (CLI: \`componentize-js … ${DISABLE_FEATURE_ARGS.join(' ')}\`; jco: \`jco componentize … ${DISABLE_FEATURE_ARGS.join(' ')}\`), and use alga:extension/http for outbound requests`;

const EXPECTED_HANDLER = 'export handler: func(request: execute-request) -> execute-response;';

/** Reads the component's root world and checks imports and the handler export. */
export async function checkComponentShape(bytes: Uint8Array): Promise<{ kind: 'ok'; shape: ComponentShape } | { kind: 'err'; problem: ComponentProblem }> {
  const kind = binaryKind(bytes);
  if (kind === 'unknown') return err({ code: 'not_wasm', message: 'not a WebAssembly binary (bad magic number or version)' });
  if (kind === 'core-module') {
    return err({
      code: 'core_module',
      message: 'this is a core WebAssembly module, not a component: build the extension with componentize-js (or wrap a core module with `wasm-tools component new`)',
    });
  }
  let wit: string;
  try {
    wit = await componentWit(bytes);
  } catch (e) {
    return err({ code: 'invalid_component', message: `invalid component: ${errorText(e)}` });
  }
  const world = parseRootWorld(wit);
  const handlerLine = world.exports.find((line) => /^export handler\b/.test(line));
  if (!handlerLine) {
    const seen = world.exports.length ? world.exports.join(' ') : 'nothing';
    return err({ code: 'missing_handler', message: `the component does not export \`handler\` (it exports ${seen}); it must implement world alga:extension/runner` });
  }
  if (normalise(handlerLine) !== EXPECTED_HANDLER || !world.uses.some((u) => /alga:extension\/types\.\{.*\bexecute-request\b.*\bexecute-response\b.*\}/.test(u))) {
    return err({
      code: 'handler_type',
      message: `\`handler\` has the wrong type: expected \`handler: func(request: execute-request) -> execute-response\` with types from alga:extension/types, found \`${handlerLine}\``,
    });
  }
  const imports: string[] = [];
  for (const line of world.imports) {
    const m = /^import ([a-z0-9-]+:[a-z0-9-]+\/[a-z0-9-]+(?:@[^;\s]+)?);$/.exec(normalise(line));
    if (!m) {
      return err({ code: 'forbidden_import', import: line, message: `the component imports \`${line}\`, which is not an alga:extension or allowed WASI interface` });
    }
    const name = stripVersion(m[1]!);
    if (name.startsWith('wasi:http/')) {
      return err({ code: 'wasi_http_import', import: m[1]!, message: `the component imports ${m[1]}: outbound HTTP must go through alga:extension/http. Rebuild with ${RECOMMENDED_BUILD_FLAGS}` });
    }
    if (!name.startsWith('alga:extension/') && !ALLOWED_WASI_INTERFACES.has(name)) {
      return err({
        code: 'forbidden_import',
        import: m[1]!,
        message: `the component imports ${m[1]}, which the runner does not provide (allowed: alga:extension/* and WASI clocks, random, io, cli stdio)`,
      });
    }
    imports.push(name);
  }
  return { kind: 'ok', shape: { imports } };
}

interface RootWorld {
  imports: string[];
  exports: string[];
  uses: string[];
}

/** Picks the statements of the first `world` block of printed WIT (wasm-tools prints one per line). */
function parseRootWorld(wit: string): RootWorld {
  const world: RootWorld = { imports: [], exports: [], uses: [] };
  const start = wit.search(/^world [^{]+\{/m);
  if (start === -1) return world;
  let depth = 0;
  let statement = '';
  const body = wit.slice(wit.indexOf('{', start) + 1);
  for (const raw of body.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('//')) continue;
    if (depth === 0 && line === '}') break;
    statement += (statement ? ' ' : '') + line;
    depth += (line.match(/\{/g)?.length ?? 0) - (line.match(/\}/g)?.length ?? 0);
    if (depth === 0 && /[;}]$/.test(line)) {
      if (statement.startsWith('import ')) world.imports.push(statement);
      else if (statement.startsWith('export ')) world.exports.push(statement);
      else if (statement.startsWith('use ')) world.uses.push(statement);
      statement = '';
    }
  }
  return world;
}

/** wasm-tools prints canonical WIT, so collapsing white space is enough to compare statements. */
function normalise(s: string): string {
  return s.replace(/\s+/g, ' ').trim();
}

function err(problem: ComponentProblem): { kind: 'err'; problem: ComponentProblem } {
  return { kind: 'err', problem };
}

function errorText(e: unknown): string {
  const text = e instanceof Error ? e.message : String(e);
  return text.split('\n')[0]!.slice(0, 500);
}
