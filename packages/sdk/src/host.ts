/**
 * The host the SDK calls, in one shape for every WIT dialect. The dialect's module
 * (`@alga-runner/sdk/host/seed` or `/host/alga`) binds it when the component starts; the build adds
 * that import for the world it targets, because a component may import only its own world's
 * interfaces.
 */
import type * as seed from './generated/seed.js';
import type * as alga from './generated/alga.js';
import type { Result } from './result.js';

export interface Host {
  readonly dialect: string;
  readonly context: { getContext(): seed.ContextData };
  readonly secrets: { get(key: string): Result<string, seed.SecretError>; list(): string[] };
  readonly http: { fetch(request: seed.HttpRequest): Result<seed.HttpResponse, seed.HttpError> };
  readonly storage: {
    get(namespace: string, key: string): Result<seed.StorageEntry, seed.StorageError>;
    put(entry: seed.StorageEntry): Result<seed.StorageEntry, seed.StorageError>;
    delete(namespace: string, key: string): Result<undefined, seed.StorageError>;
    list(namespace: string, cursor: string | undefined): Result<seed.StorageEntry[], seed.StorageError>;
  };
  readonly logging: { info(message: string): void; warn(message: string): void; error(message: string): void };
  readonly uiProxy: { call(route: string, payload: Uint8Array | undefined): Result<Uint8Array, seed.ProxyError> };
  readonly user: { getUser(): Result<seed.UserDataV2, seed.UserError> };
  readonly clients: seed.Bindings['clients'];
  readonly services: seed.Bindings['services'];
  /** only in worlds that import them (Alga's) */
  readonly scheduler?: alga.Bindings['scheduler'];
  readonly invoicing?: alga.Bindings['invoicing'];
}

let bound: Host | undefined;

/** Called once by a dialect's module; a second, different dialect in one component is a build mistake. */
export function bindHost(host: Host): void {
  if (bound && bound.dialect !== host.dialect) throw new Error(`@alga-runner/sdk: host bindings for '${bound.dialect}' and '${host.dialect}' in one component; import only the world you build for`);
  bound = host;
}

export function currentHost(): Host {
  if (!bound) throw new Error("@alga-runner/sdk: no host bindings: build with `alga-runner build`, or import '@alga-runner/sdk/host/seed' (or '/host/alga') in your entry");
  return bound;
}

/** Test seam: the router and helper unit tests run outside a component with a fake host. */
export function replaceHostForTesting(host: Host | undefined): void {
  bound = host;
}
