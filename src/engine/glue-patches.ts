/**
 * Edits to the JavaScript glue jco emits, applied once at install time (artifact-store.ts). Each
 * one is about speed, keeps the guest-visible behaviour, and is checked against what the pinned
 * jco really emits (test/engine/pipeline.test.ts): a jco upgrade that changes the shapes below
 * leaves the glue as jco wrote it and fails that test, instead of producing broken glue.
 */
import { GLUE_LIFT_PARAMETER, compileGlue } from './guest/glue.js';

/**
 * - the glue wraps exports in `WebAssembly.promising` (JSPI) inside try/catch, keeping the plain
 *   export when that throws. Its results (`realloc0Async`, ...) serve only async lifting, which a
 *   synchronous instantiation never does. On Node 20 `promising` does not exist and each throw
 *   costs ~6 ms of V8 re-parsing the 20k-line function; on Node 24 it exists and throws for the
 *   engine's JS wrappers of exports. Both take the plain export, as the fallback would;
 * - `_debugLog` reads `process.env.JCO_DEBUG` on every call — make it a no-op;
 * - sync imports of `alga:extension/*` skip the component-model task bookkeeping (leanAlgaImports);
 * - every string and list copied out of guest memory is bounded and bounds-checked first
 *   (boundedLifts) — the one patch that is about safety, not speed.
 */
export function patchGlue(glue: string): string {
  const patched = glue
    .replace(/try \{\s*([\w$]+) = WebAssembly\.promising\(([\w$.]+)\);\s*\} catch\s*\(err\) \{\s*\1 = \2;\s*\}/g, '$1 = $2; // no JSPI: instantiated synchronously')
    .replace(/const _debugLog = \(\.\.\.args\) => \{[^}]*\{ return; \}[^}]*\};/, 'const _debugLog = () => {};');
  return boundedLifts(leanAlgaImports(patched).glue).glue;
}

/** What jco emits to copy a value out of guest memory, and the LiftBounds call that replaces it. */
const LIFTS: { name: string; pattern: RegExp; replacement: string }[] = [
  // list<u8>: `ArrayBuffer.slice` would silently shorten a range past the end of memory
  { name: 'bytes', pattern: /new Uint8Array\((memory\d+)\.buffer\.slice\((\w+), \2 \+ (\w+) \* (\d+)\)\)/g, replacement: `${GLUE_LIFT_PARAMETER}.bytes($1, $2, $3 * $4)` },
  // string
  { name: 'string', pattern: /\.decode\(new Uint8Array\((memory\d+)\.buffer, (\w+), (\w+)\)\)/g, replacement: `.decode(${GLUE_LIFT_PARAMETER}.view($1, $2, $3))` },
  // list of records, lifted element by element: the whole list is checked before the first
  {
    name: 'list',
    pattern: /for \(let i = 0; i < (len\d+); i\+\+\) \{\n(\s*)const base = (base\d+) \+ i \* (\d+);/g,
    replacement: `${GLUE_LIFT_PARAMETER}.list($1, $4);\n$2for (let i = 0; i < $1; i++) {\n$2const base = $3 + i * $4;`,
  },
];

export interface BoundedLiftsResult {
  readonly glue: string;
  /** how many copies of each kind now go through LiftBounds */
  readonly bounded: Readonly<Record<string, number>>;
}

/**
 * Routes jco's copies out of guest memory through the glue's LiftBounds (guest/lift-bounds.ts):
 * the size is checked against the execution's limit and the range against the memory before
 * anything is copied or decoded.
 */
export function boundedLifts(glue: string): BoundedLiftsResult {
  const bounded: Record<string, number> = {};
  let out = glue;
  for (const { name, pattern, replacement } of LIFTS) {
    bounded[name] = 0;
    out = out.replace(pattern, (...match: string[]) => {
      bounded[name]!++;
      return match[0]!.replace(new RegExp(pattern.source), replacement);
    });
  }
  return { glue: out, bounded };
}

export interface LeanImportsResult {
  readonly glue: string;
  /** `iface#function` of the imports now called without task bookkeeping */
  readonly lean: readonly string[];
  /** `iface#function` of `alga:extension/*` imports whose code did not have the expected shape (left as emitted) */
  readonly leftAsEmitted: readonly string[];
}

const TRAMPOLINE = /const _trampoline(\d+) = function\(([\w$, ]*)\) \{\n([\s\S]*?)\n {2}\}\n {2}_trampoline\1\.fnName = '(alga:extension\/[^']+)';/g;

/**
 * Every sync import call goes through jco's async-task machinery: a lowering wrapper creates a
 * subtask in the caller's task, the import's trampoline creates a host task, links it to that
 * subtask, enters it, runs the host function under it, resolves and exits it: objects, closures
 * and promises on every call. Without it the kitchen-sink's /seven (seven import calls) runs
 * 8-17 % faster in-process (A/B in one process: 351 → 291, 397 → 328, 404 → 371 µs).
 *
 * For a sync function lowered synchronously none of it can matter: no task can interleave (the
 * call never suspends), and the bookkeeping's other duty — checking borrowed resource handles at
 * the end of a call — has nothing to check, because no `alga:extension` function takes or returns
 * a resource (wit/world.wit). So those trampolines call the host function directly, keeping what
 * a guest can observe: the "may leave" check, lifting and lowering, the result/trap handling. A
 * trampoline whose code differs from the expected shape keeps jco's version.
 */
export function leanAlgaImports(glue: string): LeanImportsResult {
  const lean: { index: string; fnName: string; wiring: string }[] = [];
  const leftAsEmitted: string[] = [];
  let out = glue.replace(TRAMPOLINE, (whole, index: string, params: string, body: string, fnName: string) => {
    const wiring = wiringOf(glue, index);
    const leanBody = wiring === null ? null : leanTrampolineBody(body);
    if (wiring === null || leanBody === null) {
      leftAsEmitted.push(fnName);
      return whole;
    }
    lean.push({ index, fnName, wiring: wiring.text });
    return `const _trampoline${index} = function(${params}) {\n    _checkMayLeave(${wiring.componentIdx});\n${leanBody}\n  }\n  _trampoline${index}.fnName = '${fnName}';`;
  });
  // the statement as matched above (a string pattern: replaced literally, not searched for again)
  for (const { index, wiring } of lean) out = out.replace(wiring, `let trampoline${index} = _trampoline${index}; // lean sync import`);
  const names = lean.map((l) => l.fnName);
  if (lean.length > 0 && !compiles(out)) return { glue, lean: [], leftAsEmitted: [...names, ...leftAsEmitted] };
  return { glue: out, lean: names, leftAsEmitted };
}

/**
 * How jco binds a trampoline as a core import: a JSPI branch for manually async imports and
 * `_lowerImportBackwardsCompat.bind(null, { ...metadata, importFn })` otherwise.
 */
function wiringPattern(index: string): RegExp {
  return new RegExp(
    `let trampoline${index} = _trampoline${index}\\.manuallyAsync \\? new WebAssembly\\.Suspending\\([\\s\\S]*?importFn: _trampoline${index},\\n {2}\\},\\n {2}\\)\\)\\) : _lowerImportBackwardsCompat\\.bind\\(\\n {2}null,\\n {2}\\{\\n([\\s\\S]*?)\\n {4}importFn: _trampoline${index},\\n {2}\\},\\n {2}\\);`,
  );
}

/** The wiring statement and its component, when its metadata says "sync function, lowered synchronously". */
function wiringOf(glue: string, index: string): { componentIdx: number; text: string } | null {
  const m = wiringPattern(index).exec(glue);
  if (!m) return null;
  const metadata = m[1]!;
  const componentIdx = /\n {4}componentIdx: (\d+),/.exec(metadata);
  if (!componentIdx || !/\n {4}isAsync: false,/.test(metadata) || !/\n {4}funcTypeIsAsync: false,/.test(metadata)) return null;
  return { componentIdx: Number(componentIdx[1]), text: m[0] };
}

const TASK_SETUP = /\n {4}const hostProvided = true;\n[\s\S]*?\n {4}const started = task\.enterSync\(\);/;
const HOST_CALL = /_withGlobalCurrentTaskMeta\(\{\n\s*componentIdx: task\.componentIdx\(\),\n\s*taskID: task\.id\(\),\n\s*fn: \(\) => _trackHostOperation\(\(\) => ([\s\S]*?)\),\n\s*\}\)\n\s*;/;
const TASK_ON_THROW = /\n\s*task\.setErrored\(err\);\n\s*task\.reject\(err\);\n\s*task\.exit\(\);/;
const TASK_ON_RETURN = /\n\s*task\.resolve\(\[.*\]\);\n\s*task\.exit\(\);/;
/** `_debugLog` is a no-op (patchGlue) but its arguments are still built, some from the task */
const DEBUG_LOG = /\n\s*_debugLog\([\s\S]*?\);(?=\n|$)/g;
const TASK_WORDS = /\b(task|subtask|parentTask|hostProvided|createTask|started)\b/;

function leanTrampolineBody(body: string): string | null {
  let out = `\n${body}`;
  for (const step of [TASK_SETUP, HOST_CALL, TASK_ON_RETURN]) {
    if (!step.test(out)) return null;
    out = out.replace(step, step === HOST_CALL ? '$1;' : '');
  }
  out = out.replace(TASK_ON_THROW, '').replace(DEBUG_LOG, '');
  return TASK_WORDS.test(out) ? null : out.slice(1);
}

function compiles(source: string): boolean {
  try {
    compileGlue(source, 'glue-check.js');
    return true;
  } catch {
    return false;
  }
}
