/**
 * Loading jco's glue (the artifact's `guest.js`). With sync instantiation and no WASI shim the
 * glue is an ES module that imports nothing and exports `instantiate` (and an empty `_util`).
 *
 * It is compiled as a function body with `vm.compileFunction` instead of being `import()`ed: an
 * imported module stays in its thread's module map for as long as the thread lives, so a worker
 * that has run many extensions over days — every version its own 0.5 MB glue — would keep all of
 * them (measured: 40 glues loaded and dropped leave 22 MiB of heap behind with `import()`, 1.3 MiB
 * with `compileFunction`). A compiled function goes with the last instance that uses it. (`new Function`
 * and `vm.Script` are kept by V8's compilation cache, keyed by source, and leak the same way.)
 */
import { readFileSync } from 'node:fs';
import { compileFunction } from 'node:vm';
import type { GuestContextData, GuestHttpRequest, GuestResponse } from '../../contract/index.js';
import { LiftBounds } from './lift-bounds.js';

/** The glue's name for the LiftBounds its patched copies go through (glue-patches.ts, boundedLifts). */
export const GLUE_LIFT_PARAMETER = '__algaLift';

/** The glue's `instantiate`: the guest's core modules linked with its imports, exporting the runner's handler. */
export type InstantiateFn = (
  getCoreModule: (name: string) => WebAssembly.Module,
  imports: Record<string, unknown>,
  instantiateCore: (module: WebAssembly.Module, imports?: WebAssembly.Imports) => WebAssembly.Instance,
) => { handler: (request: { context: GuestContextData; http: GuestHttpRequest }) => GuestResponse };

/** A loaded glue's `instantiate`, with the bounds its copies out of guest memory are checked against. */
export type GlueInstantiate = InstantiateFn & { readonly lift: LiftBounds };

/** The top-level declarations jco exports; any other form of `export` makes the load fail loudly. */
const EXPORTED_DECLARATION = /^export (function|const|let|class) /gm;

/** The glue module as the body of a function of its LiftBounds returning `instantiate` (compiled, not run). */
export function compileGlue(source: string, filename: string): (lift: LiftBounds) => unknown {
  // a module is strict code: the function body must be too
  const body = `'use strict';\n${source.replace(EXPORTED_DECLARATION, '$1 ')}\nreturn instantiate;`;
  return compileFunction(body, [GLUE_LIFT_PARAMETER], { filename }) as (lift: LiftBounds) => unknown;
}

export function loadGlue(gluePath: string, lift = new LiftBounds()): GlueInstantiate {
  const instantiate = compileGlue(readFileSync(gluePath, 'utf8'), gluePath)(lift);
  if (typeof instantiate !== 'function') throw new Error(`the glue ${gluePath} defines no instantiate function`);
  return Object.assign(instantiate as InstantiateFn, { lift });
}
