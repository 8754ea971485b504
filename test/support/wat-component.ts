/**
 * Components built in a test from a WAT module: the module exports `handler` (and whatever the
 * canonical ABI needs) and imports some `alga:extension/*` interfaces, declared as a world over
 * wit/world.wit — for guests that must call the host in an exact pattern.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { componentEmbed, componentNew, parse } from '@bytecodealliance/jco-transpile/wasm-tools';
import { repoRoot } from './runtime.js';

export interface WatWorld {
  name: string;
  /** interfaces of the `alga:extension` package the module imports, e.g. ['secrets'] */
  imports: readonly string[];
  /** changes wit/world.wit before the world is added (a test may declare a function another way) */
  editWit?: (wit: string) => string;
}

export async function watComponent(module: string | Uint8Array, world: WatWorld): Promise<Uint8Array> {
  const worldWit = readFileSync(join(repoRoot, 'wit', 'world.wit'), 'utf8');
  const declared = [
    `world ${world.name} {`,
    '  use types.{execute-request, execute-response};',
    ...world.imports.map((i) => `  import ${i};`),
    '  export handler: func(request: execute-request) -> execute-response;',
    '}',
    '',
  ].join('\n');
  const binary = typeof module === 'string' ? await parse(module) : module;
  return componentNew(await componentEmbed({ binary, witSource: `${world.editWit ? world.editWit(worldWit) : worldWit}\n${declared}`, world: world.name }));
}

/**
 * WAT that writes an execute-response with `status`, no headers and no body at `at` and leaves `at`
 * on the stack: the handler's return value (the response flattens to more than one value).
 * Layout: status u16 @0, headers list (ptr @4, len @8), body option (tag @12).
 */
export function respondWat(at: number, status: number): string {
  return `(i32.store16 (i32.const ${at}) (i32.const ${status}))
      (i32.store (i32.const ${at + 4}) (i32.const 0))
      (i32.store (i32.const ${at + 8}) (i32.const 0))
      (i32.store8 (i32.const ${at + 12}) (i32.const 0))
      (i32.const ${at})`;
}
