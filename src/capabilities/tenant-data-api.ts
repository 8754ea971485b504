/**
 * Tenant-data backend that asks Alga itself, through its install-scoped internal API
 * (the same routes Alga's own runner calls):
 *
 *   POST {base}/api/internal/ext-clients/install/{installId}
 *   POST {base}/api/internal/ext-services/install/{installId}
 *   x-runner-auth: <token>            content-type: application/json
 *
 * Request bodies (camelCase):
 *   {operation: "list", input: {search?, includeInactive?, page, pageSize}, user?}       (clients)
 *   {operation: "list", input: {search?, itemKind?, isActive?, billingMethod?, page, pageSize}, user?}
 *   {operation: "get", clientId, input: {clientId}, user?}  /  {operation: "get", serviceId, input: {serviceId}, user?}
 * `user` is `{userId, userEmail, userName, userType, clientName, clientId?}` when the execution has
 * a user, so Alga can apply that user's permissions; omitted for scheduled runs. The get id is sent
 * both at the top level (our contract) and under `input` (where Alga's route reads it).
 *
 * Answers (camelCase, optional fields `null` or absent):
 *   list → 200 {items: [client-summary | service-summary], totalCount, page, pageSize}
 *   get  → 200 {client: client-summary | null} / {service: service-summary | null}
 *          (`{item: ...}`, Alga's current spelling, is accepted too)
 *   401/403 → `not-allowed`; 400 → `invalid-input`; anything else, a network failure, a timeout or
 *   an unreadable body → `internal`. A row that does not match the summary shape (say, a billing
 *   method this runner does not know) is left out with a warning in the install's log, so one bad
 *   row does not hide the others.
 *
 * Tenant scoping is Alga's: the install id names one tenant's install. Inputs are validated here
 * first with the same rules as the embedded backend, so a bad page never leaves the runner.
 */
import { z } from 'zod';
import {
  failed,
  parseClientsListInput,
  parseRecordId,
  parseServicesListInput,
  succeeded,
  SERVICE_BILLING_METHODS,
  SERVICE_ITEM_KINDS,
  type ClientSummary,
  type ListResult,
  type ServiceSummary,
  type TenantDataBackend,
  type TenantDataResult,
  type TenantDataScope,
} from '../store/tenant-data-model.js';

export interface AlgaApiTenantDataOptions {
  /** Alga's base URL, e.g. `https://psa.example.com` (a path prefix is kept). */
  readonly baseUrl: string;
  /** Shared secret sent as `x-runner-auth`; never logged. */
  readonly runnerAuthToken: string;
  /** Per call; the execution's own deadline also aborts the call. Default 10 s. */
  readonly timeoutMs?: number;
  /** Larger answers are refused as `internal`. Default 4 MiB (100 rows need far less). */
  readonly maxResponseBytes?: number;
}

const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_MAX_RESPONSE_BYTES = 4 * 1024 * 1024;
/** How much of an upstream error message is repeated in the install's log. */
const UPSTREAM_MESSAGE_CHARS = 200;

type Resource = 'clients' | 'services';

// ---- answer shapes -----------------------------------------------------------------------------

const optionalText = z
  .string()
  .nullish()
  .transform((v) => v ?? undefined);

const clientRowSchema = z
  .object({
    clientId: z.string().min(1),
    clientName: z.string(),
    clientType: optionalText,
    isInactive: z.boolean(),
    defaultCurrencyCode: optionalText,
    accountManagerId: optionalText,
    accountManagerName: optionalText,
    billingEmail: optionalText,
  })
  .transform((c): ClientSummary => ({
    clientId: c.clientId,
    clientName: c.clientName,
    clientType: c.clientType,
    isInactive: c.isInactive,
    defaultCurrencyCode: c.defaultCurrencyCode,
    accountManagerId: c.accountManagerId,
    accountManagerName: c.accountManagerName,
    billingEmail: c.billingEmail,
  }));

const serviceRowSchema = z
  .object({
    serviceId: z.string().min(1),
    serviceName: z.string(),
    itemKind: z.enum(SERVICE_ITEM_KINDS),
    billingMethod: z.enum(SERVICE_BILLING_METHODS),
    serviceTypeId: optionalText,
    serviceTypeName: optionalText,
    defaultRate: z.number().finite(),
    unitOfMeasure: z.string(),
    isActive: z.boolean(),
    sku: optionalText,
  })
  .transform((s): ServiceSummary => ({
    serviceId: s.serviceId,
    serviceName: s.serviceName,
    itemKind: s.itemKind,
    billingMethod: s.billingMethod,
    serviceTypeId: s.serviceTypeId,
    serviceTypeName: s.serviceTypeName,
    defaultRate: s.defaultRate,
    unitOfMeasure: s.unitOfMeasure,
    isActive: s.isActive,
    sku: s.sku,
  }));

const u32 = z.number().int().min(0).max(0xffff_ffff);
const listAnswerSchema = z.object({ items: z.array(z.unknown()), totalCount: u32, page: u32, pageSize: u32 });
const upstreamErrorSchema = z.object({ error: z.string() });

type RowSchema<T> = z.ZodType<T, unknown>;

function issuesOf(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.join('.') || 'row'}: ${i.message}`).join('; ');
}

/** Parse one row; a malformed row is reported (without its values) and dropped. */
function parseRow<T>(raw: unknown, schema: RowSchema<T>, scope: TenantDataScope, where: string): T | undefined {
  const parsed = schema.safeParse(raw);
  if (parsed.success) return parsed.data;
  scope.log('warn', `${where}: skipped a malformed row (${issuesOf(parsed.error)})`);
  return undefined;
}

// ---- transport ---------------------------------------------------------------------------------

function describeFailure(error: unknown): string {
  if (error instanceof Error) {
    if (error.name === 'TimeoutError') return 'timed out';
    if (error.name === 'AbortError') return 'aborted because the execution ended';
    const cause = (error as { cause?: { code?: unknown; message?: unknown } }).cause;
    if (cause && typeof cause.code === 'string') return `${error.message} (${cause.code})`;
    return error.message;
  }
  return String(error);
}

/** Read a body up to `limit` bytes; `undefined` when it is larger. */
async function readCapped(response: Response, limit: number): Promise<string | undefined> {
  if (!response.body) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return Buffer.concat(chunks).toString('utf8');
    total += value.byteLength;
    if (total > limit) {
      await reader.cancel();
      return undefined;
    }
    chunks.push(value);
  }
}

function upstreamMessage(body: string | undefined): string {
  if (!body) return '';
  try {
    const parsed = upstreamErrorSchema.safeParse(JSON.parse(body));
    return parsed.success ? `: ${parsed.data.error.slice(0, UPSTREAM_MESSAGE_CHARS)}` : '';
  } catch {
    return '';
  }
}

function userOf(scope: TenantDataScope): Record<string, unknown> | undefined {
  const u = scope.user;
  if (!u) return undefined;
  return {
    userId: u.userId,
    userEmail: u.userEmail,
    userName: u.userName,
    userType: u.userType,
    clientName: u.clientName,
    ...(u.clientId !== null ? { clientId: u.clientId } : {}),
  };
}

export function createAlgaApiTenantData(options: AlgaApiTenantDataOptions): TenantDataBackend {
  const base = new URL(options.baseUrl);
  if (base.protocol !== 'http:' && base.protocol !== 'https:') throw new Error(`Alga API base URL must be http(s), got ${base.protocol}`);
  if (!options.runnerAuthToken) throw new Error('Alga API runner auth token is empty');
  const baseUrl = base.href.replace(/\/+$/, '');
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const maxResponseBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;

  async function post(scope: TenantDataScope, resource: Resource, body: Record<string, unknown>): Promise<TenantDataResult<unknown>> {
    const what = `Alga ${resource} API`;
    if (scope.installId === null) return failed('internal', `${what} needs an install id and this execution has none`);
    const url = `${baseUrl}/api/internal/ext-${resource}/install/${encodeURIComponent(scope.installId)}`;
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = scope.signal ? AbortSignal.any([scope.signal, timeout]) : timeout;
    const user = userOf(scope);

    let response: Response;
    let text: string | undefined;
    try {
      response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json', 'x-runner-auth': options.runnerAuthToken },
        body: JSON.stringify(user ? { ...body, user } : body),
        redirect: 'error',
        signal,
      });
      text = await readCapped(response, maxResponseBytes);
    } catch (error) {
      return failed('internal', `${what} call failed: ${describeFailure(error)}`);
    }

    const status = response.status;
    if (status === 401 || status === 403) return failed('not-allowed', `${what} refused the call (HTTP ${status})${upstreamMessage(text)}`);
    if (status === 400) return failed('invalid-input', `${what} rejected the input (HTTP 400)${upstreamMessage(text)}`);
    if (status !== 200) return failed('internal', `${what} answered HTTP ${status}${upstreamMessage(text)}`);
    if (text === undefined) return failed('internal', `${what} answer is larger than ${maxResponseBytes} bytes`);
    try {
      return succeeded(JSON.parse(text) as unknown);
    } catch {
      return failed('internal', `${what} answer is not JSON`);
    }
  }

  async function list<T>(scope: TenantDataScope, resource: Resource, input: object, row: RowSchema<T>): Promise<TenantDataResult<ListResult<T>>> {
    const answer = await post(scope, resource, { operation: 'list', input });
    if (!answer.ok) return answer;
    const parsed = listAnswerSchema.safeParse(answer.value);
    if (!parsed.success) return failed('internal', `Alga ${resource} API list answer is malformed (${issuesOf(parsed.error)})`);
    const where = `Alga ${resource} API list`;
    const items = parsed.data.items.map((raw) => parseRow(raw, row, scope, where)).filter((item): item is T => item !== undefined);
    return succeeded({ items, totalCount: parsed.data.totalCount, page: parsed.data.page, pageSize: parsed.data.pageSize });
  }

  async function get<T>(scope: TenantDataScope, resource: Resource, key: 'client' | 'service', id: string, row: RowSchema<T>): Promise<TenantDataResult<T | undefined>> {
    const idField = `${key}Id`;
    const answer = await post(scope, resource, { operation: 'get', [idField]: id, input: { [idField]: id } });
    if (!answer.ok) return answer;
    const body = answer.value;
    if (typeof body !== 'object' || body === null || !(key in body || 'item' in body)) {
      return failed('internal', `Alga ${resource} API get answer has neither "${key}" nor "item"`);
    }
    const raw = key in body ? (body as Record<string, unknown>)[key] : (body as Record<string, unknown>)['item'];
    if (raw === null || raw === undefined) return succeeded(undefined);
    return succeeded(parseRow(raw, row, scope, `Alga ${resource} API get`));
  }

  return {
    async listClients(scope, input) {
      const query = parseClientsListInput(input);
      return query.ok ? list(scope, 'clients', query.value, clientRowSchema) : query;
    },
    async getClient(scope, clientId) {
      const id = parseRecordId(clientId, 'client');
      return id.ok ? get(scope, 'clients', 'client', id.value, clientRowSchema) : id;
    },
    async listServices(scope, input) {
      const query = parseServicesListInput(input);
      return query.ok ? list(scope, 'services', query.value, serviceRowSchema) : query;
    },
    async getService(scope, serviceId) {
      const id = parseRecordId(serviceId, 'service');
      return id.ok ? get(scope, 'services', 'service', id.value, serviceRowSchema) : id;
    },
  };
}
