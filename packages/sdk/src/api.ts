/** The host's other interfaces, dialect-neutral, as typed results (storage: ./storage.ts). */
import { currentHost, type Host } from './host.js';
import { ok, type Result } from './result.js';
import type * as seed from './generated/seed.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export const context = {
  /** The execution's context (cap:context.read). A handler also gets it for free as `ctx`. */
  get: (): seed.ContextData => currentHost().context.getContext(),
};

export const secrets = {
  /** One install secret (cap:secrets.get): `missing`, `denied`, `expired` or `internal` when not. */
  get: (key: string): Result<string, seed.SecretError> => currentHost().secrets.get(key),
  /** The names of the install's secrets. */
  list: (): string[] => currentHost().secrets.list(),
};

export const log = {
  info: (message: string): void => currentHost().logging.info(message),
  warn: (message: string): void => currentHost().logging.warn(message),
  error: (message: string): void => currentHost().logging.error(message),
};

export interface FetchInit {
  readonly method?: string;
  readonly headers?: Readonly<Record<string, string>>;
  /** bytes or text as is; anything else is sent as JSON (with content-type application/json) */
  readonly body?: Uint8Array | string | object;
}

export interface FetchedResponse {
  readonly status: number;
  /** header names lower-cased; repeated headers joined with ', ' */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Uint8Array;
  text(): string;
  /** the body as JSON; `undefined` when it is not JSON */
  json<T = unknown>(): T | undefined;
}

export const http = {
  /** An outbound request (cap:http.fetch, within the install's egress allowlist). */
  fetch(url: string, init: FetchInit = {}): Result<FetchedResponse, seed.HttpError> {
    const headers = Object.entries(init.headers ?? {}).map(([name, value]) => ({ name, value }));
    let body: Uint8Array | undefined;
    if (init.body instanceof Uint8Array) body = init.body;
    else if (typeof init.body === 'string') body = encoder.encode(init.body);
    else if (init.body !== undefined) {
      body = encoder.encode(JSON.stringify(init.body));
      if (!headers.some((h) => h.name.toLowerCase() === 'content-type')) headers.push({ name: 'content-type', value: 'application/json' });
    }
    const answer = currentHost().http.fetch({ method: init.method ?? 'GET', url, headers, body });
    if (!answer.ok) return answer;
    const received: Record<string, string> = {};
    for (const h of answer.value.headers) {
      const name = h.name.toLowerCase();
      received[name] = received[name] === undefined ? h.value : `${received[name]}, ${h.value}`;
    }
    const bytes = answer.value.body ?? new Uint8Array();
    return ok({
      status: answer.value.status,
      headers: received,
      body: bytes,
      text: () => decoder.decode(bytes),
      json: <T>() => {
        try {
          return JSON.parse(decoder.decode(bytes)) as T;
        } catch {
          return undefined;
        }
      },
    });
  },
  /** The request record exactly as the WIT has it. */
  raw: (request: seed.HttpRequest): Result<seed.HttpResponse, seed.HttpError> => currentHost().http.fetch(request),
};

export const user = {
  /** The user the request is made for (cap:user.read); `not-available` for calls without one. */
  get: (): Result<seed.UserDataV2, seed.UserError> => currentHost().user.getUser(),
};

export const clients = {
  /** A page of the tenant's clients (cap:client.read). */
  list: (input: seed.ClientsListInput = {}): Result<seed.ClientsListResult, seed.ClientReadError> => currentHost().clients.listClients(input),
  get: (clientId: string): Result<seed.ClientSummary | undefined, seed.ClientReadError> => currentHost().clients.getClient(clientId),
};

export const services = {
  /** A page of the tenant's service catalog (cap:service.read). */
  list: (input: seed.ServicesListInput = {}): Result<seed.ServicesListResult, seed.ServiceReadError> => currentHost().services.listServices(input),
  get: (serviceId: string): Result<seed.ServiceSummary | undefined, seed.ServiceReadError> => currentHost().services.getService(serviceId),
};

export const uiProxy = {
  /** A host-mediated proxy route (cap:ui.proxy). */
  call: (route: string, payload?: Uint8Array): Result<Uint8Array, seed.ProxyError> => currentHost().uiProxy.call(route, payload),
};

function only<K extends 'scheduler' | 'invoicing'>(name: K): NonNullable<Host[K]> {
  const host = currentHost();
  const found = host[name];
  if (!found) throw new Error(`@alga-runner/sdk: ${name} is in Alga's world only; this component is built for '${host.dialect}'`);
  return found as NonNullable<Host[K]>;
}

/** Schedules of the install's own endpoints (cap:scheduler.manage; Alga's world only). */
export const scheduler = {
  list: () => only('scheduler').listSchedules(),
  get: (scheduleId: string) => only('scheduler').getSchedule(scheduleId),
  create: (input: Parameters<NonNullable<Host['scheduler']>['createSchedule']>[0]) => only('scheduler').createSchedule(input),
  update: (scheduleId: string, input: Parameters<NonNullable<Host['scheduler']>['updateSchedule']>[1]) => only('scheduler').updateSchedule(scheduleId, input),
  delete: (scheduleId: string) => only('scheduler').deleteSchedule(scheduleId),
  endpoints: () => only('scheduler').getEndpoints(),
};

/** Draft manual invoices (cap:invoice.manual.create; Alga's world only). */
export const invoicing = {
  createManualInvoice: (input: Parameters<NonNullable<Host['invoicing']>['createManualInvoice']>[0]) => only('invoicing').createManualInvoice(input),
};
