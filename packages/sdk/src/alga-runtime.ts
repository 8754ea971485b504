/**
 * The shape of Alga's `@alga-psa/extension-runtime` where this SDK overlaps it: the same type
 * names, `jsonResponse`, `emptyResponse`, `normalizeUserData`, and a `HostBindings` object whose
 * methods are async and throw on a host error (as Alga's are), built over this SDK's typed
 * results. A handler written `(request, host) => …` for Alga runs through `fromAlgaHandler`.
 * What is not here is listed in packages/sdk/README.md ("Alga's SDK").
 */
import { currentHost } from './host.js';
import type { Result } from './result.js';
import type * as seed from './generated/seed.js';
import type * as alga from './generated/alga.js';

export type ContextData = seed.ContextData & { config?: Record<string, string> };
export type HttpHeader = seed.HttpHeader;
export type HttpRequest = seed.HttpRequest;
export type HttpResponse = seed.HttpResponse;
export type ExecuteRequest = seed.ExecuteRequest;
export interface ExecuteResponse {
  status: number;
  headers?: HttpHeader[];
  body?: Uint8Array | null;
}
export type ClientSummary = seed.ClientSummary;
export type ClientsListInput = seed.ClientsListInput;
export type ClientsListResult = seed.ClientsListResult;
export type ClientReadError = seed.ClientReadError;
export type ServiceSummary = seed.ServiceSummary;
export type ServicesListInput = seed.ServicesListInput;
export type ServicesListResult = seed.ServicesListResult;
export type ServiceReadError = seed.ServiceReadError;
export type ServiceItemKind = seed.ServiceItemKind;
export type ServiceBillingMethod = seed.ServiceBillingMethod;
export type UserError = seed.UserError;
export type ScheduleInfo = alga.ScheduleInfo;
export type EndpointInfo = alga.EndpointInfo;
export type CreateScheduleInput = alga.CreateScheduleInput;
export type CreateScheduleResult = alga.CreateScheduleResult;
export type UpdateScheduleInput = alga.UpdateScheduleInput;
export type UpdateScheduleResult = alga.UpdateScheduleResult;
export type DeleteScheduleResult = alga.DeleteScheduleResult;
export type CreateManualInvoiceInput = alga.CreateManualInvoiceInput;
export type CreateManualInvoiceResult = alga.CreateManualInvoiceResult;

export interface UserData {
  tenantId: string;
  clientName: string;
  userId: string;
  userEmail: string;
  userName: string;
  userType: string;
  clientId?: string;
  additionalFields?: Record<string, string>;
}

export interface UserDataWire extends Omit<UserData, 'additionalFields'> {
  additionalFields?: Record<string, string> | Array<[string, string]> | null;
}

/** The user record with `additionalFields` as an object, whichever way the host sent it. */
export function normalizeUserData(input: UserDataWire): UserData {
  const extra = input.additionalFields;
  const additionalFields = Array.isArray(extra) ? Object.fromEntries(extra) : extra && typeof extra === 'object' ? { ...extra } : undefined;
  const { tenantId, clientName, userId, userEmail, userName, userType, clientId } = input;
  return { tenantId, clientName, userId, userEmail, userName, userType, clientId, additionalFields };
}

export interface HostBindings {
  context: { get(): Promise<ContextData> };
  secrets: { get(key: string): Promise<string>; list(): Promise<string[]> };
  http: { fetch(request: HttpRequest): Promise<HttpResponse> };
  storage: {
    get(namespace: string, key: string): Promise<Uint8Array | null>;
    put(entry: { namespace: string; key: string; value: Uint8Array; revision?: number | null }): Promise<void>;
    delete(namespace: string, key: string): Promise<void>;
    list(namespace: string): Promise<Array<{ key: string; value: Uint8Array; revision?: number | null }>>;
  };
  logging: { info(message: string): Promise<void>; warn(message: string): Promise<void>; error(message: string): Promise<void> };
  uiProxy: { callRoute(route: string, payload?: Uint8Array | null): Promise<Uint8Array>; call?(route: string, payload?: Uint8Array | null): Promise<Uint8Array> };
  scheduler: {
    list(): Promise<ScheduleInfo[]>;
    get(scheduleId: string): Promise<ScheduleInfo | null>;
    create(input: CreateScheduleInput): Promise<CreateScheduleResult>;
    update(scheduleId: string, input: UpdateScheduleInput): Promise<UpdateScheduleResult>;
    delete(scheduleId: string): Promise<DeleteScheduleResult>;
    getEndpoints(): Promise<EndpointInfo[]>;
  };
  invoicing: { createManualInvoice(input: CreateManualInvoiceInput): Promise<CreateManualInvoiceResult> };
  user: { getUser(): Promise<UserData> };
  clients: { list(input?: ClientsListInput): Promise<ClientsListResult>; get(clientId: string): Promise<ClientSummary | null> };
  services: { list(input?: ServicesListInput): Promise<ServicesListResult>; get(serviceId: string): Promise<ServiceSummary | null> };
}

export type Handler = (request: ExecuteRequest, host: HostBindings) => Promise<ExecuteResponse> | ExecuteResponse;

/** A host error, thrown the way Alga's bindings throw it (`message` is the WIT error case). */
export class HostCallError extends Error {
  constructor(
    readonly call: string,
    readonly code: string,
  ) {
    super(`${call} failed: ${code}`);
  }
}

function unwrap<T, E>(call: string, result: Result<T, E>): T {
  if (result.ok) return result.value;
  throw new HostCallError(call, String(result.error));
}

function needs<T>(name: string, value: T | undefined): T {
  if (value === undefined) throw new HostCallError(name, 'not-available-in-this-world');
  return value;
}

/** Alga's `HostBindings` over this SDK's host: async, and throwing on a host error. */
export function createHostBindings(): HostBindings {
  const h = () => currentHost();
  return {
    context: { get: async () => h().context.getContext() },
    secrets: { get: async (key) => unwrap('secrets.get', h().secrets.get(key)), list: async () => h().secrets.list() },
    http: { fetch: async (request) => unwrap('http.fetch', h().http.fetch(request)) },
    storage: {
      get: async (namespace, key) => {
        const found = h().storage.get(namespace, key);
        if (!found.ok && found.error === 'missing') return null;
        return unwrap('storage.get', found).value;
      },
      put: async (entry) => {
        unwrap('storage.put', h().storage.put({ namespace: entry.namespace, key: entry.key, value: entry.value, revision: entry.revision == null ? undefined : BigInt(entry.revision) }));
      },
      delete: async (namespace, key) => {
        const done = h().storage.delete(namespace, key);
        if (!done.ok && done.error !== 'missing') unwrap('storage.delete', done);
      },
      list: async (namespace) => {
        const out: Array<{ key: string; value: Uint8Array; revision?: number | null }> = [];
        for (let cursor: string | undefined; ;) {
          const page = unwrap('storage.list', h().storage.list(namespace, cursor));
          if (page.length === 0) return out;
          for (const e of page) out.push({ key: e.key, value: e.value, revision: e.revision === undefined ? null : Number(e.revision) });
          cursor = page[page.length - 1]!.key;
        }
      },
    },
    logging: {
      info: async (message) => h().logging.info(message),
      warn: async (message) => h().logging.warn(message),
      error: async (message) => h().logging.error(message),
    },
    uiProxy: {
      callRoute: async (route, payload) => unwrap('uiProxy.callRoute', h().uiProxy.call(route, payload ?? undefined)),
      call: async (route, payload) => unwrap('uiProxy.call', h().uiProxy.call(route, payload ?? undefined)),
    },
    scheduler: {
      list: async () => unwrap('scheduler.list', needs('scheduler', h().scheduler).listSchedules()),
      get: async (id) => unwrap('scheduler.get', needs('scheduler', h().scheduler).getSchedule(id)) ?? null,
      create: async (input) => needs('scheduler', h().scheduler).createSchedule(input),
      update: async (id, input) => needs('scheduler', h().scheduler).updateSchedule(id, input),
      delete: async (id) => needs('scheduler', h().scheduler).deleteSchedule(id),
      getEndpoints: async () => unwrap('scheduler.getEndpoints', needs('scheduler', h().scheduler).getEndpoints()),
    },
    invoicing: { createManualInvoice: async (input) => needs('invoicing', h().invoicing).createManualInvoice(input) },
    user: {
      getUser: async () => {
        const u = unwrap('user.getUser', h().user.getUser());
        return normalizeUserData({ ...u, additionalFields: u.additionalFields });
      },
    },
    clients: { list: async (input) => unwrap('clients.list', h().clients.listClients(input ?? {})), get: async (id) => unwrap('clients.get', h().clients.getClient(id)) ?? null },
    services: { list: async (input) => unwrap('services.list', h().services.listServices(input ?? {})), get: async (id) => unwrap('services.get', h().services.getService(id)) ?? null },
  };
}

/** An Alga-style `(request, host)` handler as this component's export. */
export function fromAlgaHandler(handler: Handler): (request: ExecuteRequest) => Promise<seed.ExecuteResponse> {
  return async (request) => {
    const answer = await handler(request, createHostBindings());
    return { status: answer.status, headers: answer.headers ?? [], body: answer.body ?? undefined };
  };
}

const encoder = new TextEncoder();

export function jsonResponse(body: unknown, init: Partial<ExecuteResponse> = {}): ExecuteResponse {
  return {
    status: init.status ?? 200,
    headers: init.headers ?? [{ name: 'content-type', value: 'application/json' }],
    body: body instanceof Uint8Array ? body : encoder.encode(JSON.stringify(body)),
  };
}

export function emptyResponse(status = 204): ExecuteResponse {
  return { status, headers: [], body: null };
}

/** A ui-proxy route with a JSON payload and a JSON answer (undefined for an empty answer). */
export async function callProxyJson<T = unknown>(uiProxy: HostBindings['uiProxy'], route: string, payload?: unknown): Promise<T> {
  const send = uiProxy.callRoute.bind(uiProxy);
  const answer = await send(route, payload === undefined ? undefined : encoder.encode(JSON.stringify(payload)));
  const text = new TextDecoder().decode(answer);
  return (text === '' ? undefined : JSON.parse(text)) as T;
}
