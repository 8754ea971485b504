/**
 * The guests the benchmark runs: the kitchen-sink example (`npm run examples` builds it) and two
 * tiny WAT components built here that call `secrets.get("bench")` a fixed number of times, so the
 * bridge's per-call cost can be read off directly (kitchen-sink has no route repeating one host call).
 * `secrets.get` is a real round trip: the guest waits for the main thread's answer, a string it
 * lowers through the guest's allocator (logging would not do: it is one-way).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { componentEmbed, componentNew, parse } from '@bytecodealliance/jco-transpile/wasm-tools';
import type { GuestHttpRequest } from '../src/contract/index.js';
import type { HandlerName } from './results.js';

export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

export function kitchenSinkBytes(): Uint8Array {
  return exampleBytes('kitchen-sink');
}

/** An example component `npm run examples` built. */
export function exampleBytes(name: string): Uint8Array {
  const path = join(repoRoot, '.cache', 'examples', `${name}.wasm`);
  try {
    return readFileSync(path);
  } catch {
    throw new Error(`${path} is missing: run \`npm run examples\` first (npm run bench does)`);
  }
}

export const ROUTES: Record<HandlerName, string> = { noop: '/noop', seven: '/seven', context: '/context' };

export function httpRequest(handler: HandlerName): GuestHttpRequest {
  return { method: 'GET', url: ROUTES[handler], headers: [], body: undefined };
}

/**
 * Fails the run unless `/seven` really made its seven calls successfully: a benchmark of denied or
 * failing calls would flatter the numbers.
 */
export function checkSevenBody(system: string, body: string): void {
  const parsed = JSON.parse(body) as Record<string, unknown>;
  const problems: string[] = [];
  if (parsed['storage_put'] !== 'ok') problems.push(`storage_put=${String(parsed['storage_put'])}`);
  if (!['ok', 'missing'].includes(String(parsed['storage_get']))) problems.push(`storage_get=${String(parsed['storage_get'])}`);
  if (parsed['secret'] !== 'ok') problems.push(`secret=${String(parsed['secret'])}`);
  if (typeof parsed['user'] !== 'string' || ['not-available', 'not-allowed'].includes(parsed['user'])) problems.push(`user=${String(parsed['user'])}`);
  if (typeof parsed['clients'] !== 'number') problems.push(`clients=${String(parsed['clients'])}`);
  if (problems.length > 0) throw new Error(`${system}: /seven did not make its seven calls successfully (${problems.join(', ')})`);
}

const BENCH_WORLD = `
world bench-host-calls {
  use types.{execute-request, execute-response};
  import secrets;
  export handler: func(request: execute-request) -> execute-response;
}
`;

/** A handler that calls `secrets.get("bench")` `calls` times, then answers 204 (cf. examples/wat/ok.wat). */
function hostCallsWat(calls: number): string {
  return `(module
  (import "alga:extension/secrets" "get" (func $get (param i32 i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 512) "bench")
  (global $heap (mut i32) (i32.const 1024))
  (func (export "cabi_realloc") (param $old i32) (param $old_size i32) (param $align i32) (param $size i32) (result i32)
    (local $ptr i32)
    (local.set $ptr
      (i32.and
        (i32.add (global.get $heap) (i32.sub (local.get $align) (i32.const 1)))
        (i32.sub (i32.const 0) (local.get $align))))
    (global.set $heap (i32.add (local.get $ptr) (local.get $size)))
    (block $fits
      (loop $grow
        (br_if $fits (i32.le_u (global.get $heap) (i32.mul (memory.size) (i32.const 65536))))
        (br_if $grow (i32.ne (memory.grow (i32.const 1)) (i32.const -1)))
        unreachable))
    (if (local.get $old)
      (then (memory.copy (local.get $ptr) (local.get $old) (local.get $old_size))))
    (local.get $ptr))
  (func (export "handler") (param $request i32) (result i32)
    (local $i i32)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (i32.const ${calls})))
        ;; result<string, secret-error> lands at 64 (tag, then the string's pointer and length)
        (call $get (i32.const 512) (i32.const 5) (i32.const 64))
        (if (i32.ne (i32.load8_u (i32.const 64)) (i32.const 0)) (then unreachable))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (i32.store16 (i32.const 16) (i32.const 204))
    (i32.store (i32.const 20) (i32.const 0))
    (i32.store (i32.const 24) (i32.const 0))
    (i32.store8 (i32.const 28) (i32.const 0))
    (i32.const 16)))`;
}

export async function buildHostCallsGuest(calls: number): Promise<Uint8Array> {
  const worldWit = readFileSync(join(repoRoot, 'wit', 'world.wit'), 'utf8');
  const core = await parse(hostCallsWat(calls));
  const embedded = await componentEmbed({ binary: core, witSource: `${worldWit}\n${BENCH_WORLD}`, world: 'bench-host-calls' });
  return componentNew(embedded);
}
