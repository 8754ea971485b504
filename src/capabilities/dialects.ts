/**
 * The dialects of alga:extension this runner serves, as data. Every world in wit/ is a dialect
 * (wit/world.wit is the seed, wit/<name>/world.wit the dialect <name>; scripts/wit-types.mjs
 * generates their bindings into src/generated/wit/). Alga's production runner speaks a later
 * dialect (`alga`) that renames some of the seed's functions.
 *
 * Capability modules implement the seed's functions, typed by the seed's signatures (an interface
 * only a later dialect has — Alga's `scheduler` and `invoicing` — is typed by that dialect's), and
 * declare per function what a call without the grant answers and how calls reach it. `DIALECTS` maps each
 * function of each dialect to the seed function that serves it; `serve` then registers it under
 * every dialect's name with that one implementation, denied answer and delivery, so a renamed
 * function can never be answered differently from the function it stands for.
 *
 * The table is checked by the compiler: each dialect's entry must name every function of every
 * interface of its WIT (a function left out does not compile), and only a seed function whose
 * parameters are the same and whose answer fits the dialect's signature. test/wit-dialects.test.ts
 * walks every function of every dialect's world, as jco sees a component built against it, and
 * fails on one the registry does not serve.
 */
import type { AnswerOf, CapabilityFunction, DeniedAnswer, Delivery, Err, InterfaceImpl } from './capability.js';
import type { Interfaces as Seed } from '../generated/wit/seed.js';
import type { Interfaces as Alga } from '../generated/wit/alga.js';

/**
 * The signatures implementations are typed by: the seed's interfaces, and the interfaces only
 * Alga's dialect has (scheduler, invoicing) with Alga's signatures.
 */
export type SeedInterfaces = Seed & Omit<Alga, keyof Seed>;
export type SeedInterface = keyof SeedInterfaces;

/** A WIT signature G can be served by S: the same parameters, and S's answer is one G's caller accepts. */
type Serves<S, G> = S extends { readonly params: infer SP }
  ? G extends { readonly params: infer GP }
    ? [SP] extends [GP]
      ? [GP] extends [SP]
        ? [AnswerOf<S>] extends [AnswerOf<G>]
          ? true
          : false
        : false
      : false
    : false
  : false;

/** The seed functions of interface I that can serve a function of signature G. */
type ServingFunction<I, G> = I extends SeedInterface ? { [K in keyof SeedInterfaces[I]]: Serves<SeedInterfaces[I][K], G> extends true ? K : never }[keyof SeedInterfaces[I]] : never;

/** For every function of every interface of a dialect D: the seed function that serves it. */
export type DialectTable<D> = { readonly [I in keyof D]: { readonly [F in keyof D[I]]: ServingFunction<I, D[I][F]> } };

/**
 * Each dialect's functions (jco names) → the seed function whose implementation, denied answer and
 * delivery serve them.
 */
export const DIALECTS = {
  seed: {
    'alga:extension/context': { getContext: 'getContext' },
    'alga:extension/secrets': { get: 'get', list: 'list' },
    'alga:extension/http': { fetch: 'fetch' },
    'alga:extension/storage': { get: 'get', put: 'put', delete: 'delete', list: 'list' },
    'alga:extension/logging': { info: 'info', warn: 'warn', error: 'error' },
    'alga:extension/ui-proxy': { call: 'call' },
    'alga:extension/user': { getUser: 'getUser' },
    'alga:extension/user-v2': { getUser: 'getUser' },
    'alga:extension/clients': { listClients: 'listClients', getClient: 'getClient' },
    'alga:extension/services': { listServices: 'listServices', getService: 'getService' },
  } satisfies DialectTable<Seed>,
  alga: {
    'alga:extension/context': { getContext: 'getContext' },
    'alga:extension/secrets': { get: 'get', listKeys: 'list' },
    'alga:extension/http': { fetch: 'fetch' },
    'alga:extension/storage': { get: 'get', put: 'put', delete: 'delete', listEntries: 'list' },
    'alga:extension/logging': { logInfo: 'info', logWarn: 'warn', logError: 'error' },
    'alga:extension/ui-proxy': { callRoute: 'call' },
    'alga:extension/user': { getUser: 'getUser' },
    'alga:extension/user-v2': { getUser: 'getUser' },
    'alga:extension/scheduler': {
      listSchedules: 'listSchedules',
      getSchedule: 'getSchedule',
      createSchedule: 'createSchedule',
      updateSchedule: 'updateSchedule',
      deleteSchedule: 'deleteSchedule',
      getEndpoints: 'getEndpoints',
    },
    'alga:extension/invoicing': { createManualInvoice: 'createManualInvoice' },
    'alga:extension/clients': { listClients: 'listClients', getClient: 'getClient' },
    'alga:extension/services': { listServices: 'listServices', getService: 'getService' },
  } satisfies DialectTable<Alga>,
} as const;

export type DialectName = keyof typeof DIALECTS;

/** Every name a seed function is known by, in any dialect (its own first). */
export function dialectNames(iface: string, seedFn: string): string[] {
  const names = [seedFn];
  for (const table of Object.values(DIALECTS) as Readonly<Record<string, Readonly<Record<string, string>>>>[]) {
    for (const [fn, serving] of Object.entries(table[iface] ?? {})) if (serving === seedFn && !names.includes(fn)) names.push(fn);
  }
  return names;
}

/** Every value of `bySeedName` under each dialect's names for its key (e.g. worker-side functions by name). */
export function underDialectNames<T>(iface: string, bySeedName: Readonly<Record<string, T>>): Record<string, T> {
  const out: Record<string, T> = {};
  for (const [seedFn, v] of Object.entries(bySeedName)) for (const name of dialectNames(iface, seedFn)) out[name] = v;
  return out;
}

type ErrorOf<F> = F extends { readonly err: infer E extends string } ? E : never;

/** One interface's implementation of the seed's functions, typed by their WIT signatures. */
export interface InterfaceSpec<Config, State, Fns> {
  readonly functions: { readonly [K in keyof Fns]: CapabilityFunction<Config, State, Fns[K]> };
  /** per function: what a call without the grant returns */
  readonly denied: { readonly [K in keyof Fns]: DeniedAnswer<Fns[K]> };
  /** what a call returns when its implementation throws: one of the interface's error cases */
  readonly onFailure?: Err<ErrorOf<Fns[keyof Fns]>>;
  /** per function: how calls reach it (absent: `round-trip`) */
  readonly delivery?: { readonly [K in keyof Fns]?: Delivery };
}

/**
 * The interface `name` as the registry holds it: each seed function under every dialect's name
 * for it (DIALECTS), with its implementation, denied answer and delivery.
 */
export function serve<Config, State, I extends SeedInterface>(name: I, spec: InterfaceSpec<Config, State, SeedInterfaces[I]>): InterfaceImpl<Config, State> {
  // The registry holds functions untyped: it passes the guest's arguments as jco lifted them (which
  // the typed function reads as unknowns) and forwards any answer.
  const functions = underDialectNames(name, spec.functions as unknown as Record<string, CapabilityFunction<Config, State>>);
  const denied = underDialectNames(name, spec.denied as Record<string, DeniedAnswer>);
  const delivery = spec.delivery ? underDialectNames(name, spec.delivery as Record<string, Delivery>) : undefined;
  return {
    name,
    functions,
    denied,
    ...(spec.onFailure ? { onFailure: spec.onFailure } : {}),
    ...(delivery ? { delivery } : {}),
  };
}
