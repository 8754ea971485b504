/**
 * Tenant PSA data (clients, services) as the guest sees it, and the one interface every backend of
 * it implements (the records of wit/world.wit). Values are already in jco's representation — records with
 * camelCase keys, enums as kebab-case strings, `option<T>` as `T | undefined` — so a capability can
 * hand them to the guest unchanged.
 *
 * The list-input rules live here too, because every backend must apply the same ones: page ≥ 1
 * (default 1), page-size 1..100 (default 25), anything else is `invalid-input`.
 */
import { z } from 'zod';
import type { ExecutionUser } from '../contract/index.js';
import type { ReadOnlyStoreFile } from './sqlite-reader.js';

export type ServiceItemKind = 'service' | 'product';
export type ServiceBillingMethod = 'fixed' | 'hourly' | 'usage';
export const SERVICE_ITEM_KINDS = ['service', 'product'] as const satisfies readonly ServiceItemKind[];
export const SERVICE_BILLING_METHODS = ['fixed', 'hourly', 'usage'] as const satisfies readonly ServiceBillingMethod[];

/** WIT `client-summary`. */
export interface ClientSummary {
  readonly clientId: string;
  readonly clientName: string;
  readonly clientType: string | undefined;
  readonly isInactive: boolean;
  readonly defaultCurrencyCode: string | undefined;
  readonly accountManagerId: string | undefined;
  readonly accountManagerName: string | undefined;
  readonly billingEmail: string | undefined;
}

/** WIT `service-summary`. */
export interface ServiceSummary {
  readonly serviceId: string;
  readonly serviceName: string;
  readonly itemKind: ServiceItemKind;
  readonly billingMethod: ServiceBillingMethod;
  readonly serviceTypeId: string | undefined;
  readonly serviceTypeName: string | undefined;
  readonly defaultRate: number;
  readonly unitOfMeasure: string;
  readonly isActive: boolean;
  readonly sku: string | undefined;
}

/** WIT `clients-list-input` / `services-list-input`, as jco hands them over. */
export interface ClientsListInput {
  readonly search?: string | undefined;
  readonly includeInactive?: boolean | undefined;
  readonly page?: number | undefined;
  readonly pageSize?: number | undefined;
}

export interface ServicesListInput {
  readonly search?: string | undefined;
  readonly itemKind?: ServiceItemKind | undefined;
  readonly isActive?: boolean | undefined;
  readonly billingMethod?: ServiceBillingMethod | undefined;
  readonly page?: number | undefined;
  readonly pageSize?: number | undefined;
}

/** WIT `clients-list-result` / `services-list-result`. */
export interface ListResult<T> {
  readonly items: readonly T[];
  readonly totalCount: number;
  readonly page: number;
  readonly pageSize: number;
}

/** WIT `client-read-error` / `service-read-error` (identical cases). */
export type TenantDataError = 'not-allowed' | 'invalid-input' | 'internal';

export type TenantDataResult<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: TenantDataError; readonly message: string };

export const succeeded = <T>(value: T): TenantDataResult<T> => ({ ok: true, value });
export const failed = (error: TenantDataError, message: string): { readonly ok: false; readonly error: TenantDataError; readonly message: string } => ({
  ok: false,
  error,
  message,
});

/** Who is asking: the execution's tenant (the only tenant a call may read), install and user. */
export interface TenantDataScope {
  readonly tenantId: string;
  readonly installId: string | null;
  readonly user: ExecutionUser | null;
  /** The install's log (a malformed upstream row is reported here). */
  log(level: 'debug' | 'info' | 'warn' | 'error', message: string): void;
  /** Fires when the execution ends; backends abort outstanding work. */
  readonly signal?: AbortSignal;
}

export interface TenantDataBackend {
  /**
   * The embedded store's file, when guest workers may read tenant data from it themselves (the
   * clients and services capabilities' worker sides); absent for other backends (Alga's API).
   */
  readonly readOnlyFile?: ReadOnlyStoreFile | null;
  /** Its reads reach outside the runner (Alga's API): they wait for the execution's writes to be on disk (Capability.leavesRunner). */
  readonly outsideRunner?: boolean;
  listClients(scope: TenantDataScope, input: ClientsListInput): Promise<TenantDataResult<ListResult<ClientSummary>>>;
  /** `ok(undefined)` when the tenant has no client with that id. */
  getClient(scope: TenantDataScope, clientId: string): Promise<TenantDataResult<ClientSummary | undefined>>;
  listServices(scope: TenantDataScope, input: ServicesListInput): Promise<TenantDataResult<ListResult<ServiceSummary>>>;
  /** `ok(undefined)` when the tenant has no service with that id. */
  getService(scope: TenantDataScope, serviceId: string): Promise<TenantDataResult<ServiceSummary | undefined>>;
}

// ---- list-input validation (shared by every backend) ----------------------------------------

export const DEFAULT_PAGE = 1;
export const DEFAULT_PAGE_SIZE = 25;
export const MAX_PAGE_SIZE = 100;
const U32_MAX = 0xffff_ffff;
/** Longer search strings are refused rather than sent to a database or upstream. */
export const MAX_SEARCH_LENGTH = 200;

const paging = {
  page: z.number().int().min(1).max(U32_MAX).optional(),
  pageSize: z.number().int().min(1).max(MAX_PAGE_SIZE).optional(),
};
const search = z.string().max(MAX_SEARCH_LENGTH).optional();

const clientsListInputSchema = z.object({ search, includeInactive: z.boolean().optional(), ...paging });
const servicesListInputSchema = z.object({
  search,
  itemKind: z.enum(SERVICE_ITEM_KINDS).optional(),
  isActive: z.boolean().optional(),
  billingMethod: z.enum(SERVICE_BILLING_METHODS).optional(),
  ...paging,
});

/** A validated list request with defaults applied; `search` is trimmed and absent when blank. */
export interface ClientsQuery {
  readonly search: string | undefined;
  readonly includeInactive: boolean;
  readonly page: number;
  readonly pageSize: number;
}

export interface ServicesQuery {
  readonly search: string | undefined;
  readonly itemKind: ServiceItemKind | undefined;
  readonly isActive: boolean | undefined;
  readonly billingMethod: ServiceBillingMethod | undefined;
  readonly page: number;
  readonly pageSize: number;
}

function describeIssues(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.join('.') || 'input'}: ${i.message}`).join('; ');
}

function normalizeSearch(raw: string | undefined): string | undefined {
  const trimmed = raw?.trim();
  return trimmed ? trimmed : undefined;
}

export function parseClientsListInput(input: unknown): TenantDataResult<ClientsQuery> {
  const parsed = clientsListInputSchema.safeParse(input ?? {});
  if (!parsed.success) return failed('invalid-input', `invalid clients list input: ${describeIssues(parsed.error)}`);
  const v = parsed.data;
  return succeeded({
    search: normalizeSearch(v.search),
    includeInactive: v.includeInactive ?? false,
    page: v.page ?? DEFAULT_PAGE,
    pageSize: v.pageSize ?? DEFAULT_PAGE_SIZE,
  });
}

export function parseServicesListInput(input: unknown): TenantDataResult<ServicesQuery> {
  const parsed = servicesListInputSchema.safeParse(input ?? {});
  if (!parsed.success) return failed('invalid-input', `invalid services list input: ${describeIssues(parsed.error)}`);
  const v = parsed.data;
  return succeeded({
    search: normalizeSearch(v.search),
    itemKind: v.itemKind,
    isActive: v.isActive,
    billingMethod: v.billingMethod,
    page: v.page ?? DEFAULT_PAGE,
    pageSize: v.pageSize ?? DEFAULT_PAGE_SIZE,
  });
}

/** A get-by-id argument must be a string; anything else is a caller bug reported as `invalid-input`. */
export function parseRecordId(id: unknown, what: 'client' | 'service'): TenantDataResult<string> {
  return typeof id === 'string' ? succeeded(id) : failed('invalid-input', `${what} id must be a string`);
}
