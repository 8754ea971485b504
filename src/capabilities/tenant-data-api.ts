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
import { createAlgaInternalApi, upstreamMessage, type AlgaApiOptions } from './alga-internal-api.js';
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

/** Alga's base URL and runner token (alga-internal-api.ts). */
export type AlgaApiTenantDataOptions = AlgaApiOptions;

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
  const api = createAlgaInternalApi(options);

  async function post(scope: TenantDataScope, resource: Resource, body: Record<string, unknown>): Promise<TenantDataResult<unknown>> {
    const what = `Alga ${resource} API`;
    if (scope.installId === null) return failed('internal', `${what} needs an install id and this execution has none`);
    const user = userOf(scope);
    const answer = await api.post(resource, scope.installId, user ? { ...body, user } : body, scope.signal);
    if (answer.kind === 'unreachable') return failed('internal', `${what} call failed: ${answer.message}`);
    const { status, text } = answer;
    if (status === 401 || status === 403) return failed('not-allowed', `${what} refused the call (HTTP ${status})${upstreamMessage(text)}`);
    if (status === 400) return failed('invalid-input', `${what} rejected the input (HTTP 400)${upstreamMessage(text)}`);
    if (status !== 200) return failed('internal', `${what} answered HTTP ${status}${upstreamMessage(text)}`);
    if (text === undefined) return failed('internal', `${what} answer is larger than ${api.maxResponseBytes} bytes`);
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
    outsideRunner: true,
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
