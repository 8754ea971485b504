/**
 * The admin API's view of tenant data: `PUT /admin/v1/tenants/{tenant}/clients` and `.../services`
 * take `{items: [...]}` with Alga's snake_case column names. These schemas parse that
 * body into the guest-facing model. Unknown keys are refused so a misspelt column does not silently
 * fall back to its default; duplicate ids are refused because they would violate the primary key.
 */
import { z } from 'zod';
import { SERVICE_BILLING_METHODS, SERVICE_ITEM_KINDS, type ClientSummary, type ServiceSummary } from './tenant-data-model.js';

const MAX_ID = 256;
const MAX_TEXT = 512;

const id = z.string().min(1).max(MAX_ID);
/** Optional text: absent, `null` and a string are all accepted; absence is `undefined` in the model. */
const optionalText = z
  .string()
  .max(MAX_TEXT)
  .nullish()
  .transform((v) => v ?? undefined);

export const clientItemSchema = z
  .strictObject({
    client_id: id,
    client_name: z.string().min(1).max(MAX_TEXT),
    client_type: optionalText,
    is_inactive: z.boolean().default(false),
    default_currency_code: optionalText,
    account_manager_id: optionalText,
    account_manager_name: optionalText,
    billing_email: optionalText,
  })
  .transform((c): ClientSummary => ({
    clientId: c.client_id,
    clientName: c.client_name,
    clientType: c.client_type,
    isInactive: c.is_inactive,
    defaultCurrencyCode: c.default_currency_code,
    accountManagerId: c.account_manager_id,
    accountManagerName: c.account_manager_name,
    billingEmail: c.billing_email,
  }));

export const serviceItemSchema = z
  .strictObject({
    service_id: id,
    service_name: z.string().min(1).max(MAX_TEXT),
    item_kind: z.enum(SERVICE_ITEM_KINDS),
    billing_method: z.enum(SERVICE_BILLING_METHODS),
    service_type_id: optionalText,
    service_type_name: optionalText,
    default_rate: z.number().finite(),
    unit_of_measure: z.string().max(MAX_TEXT),
    is_active: z.boolean().default(true),
    sku: optionalText,
  })
  .transform((s): ServiceSummary => ({
    serviceId: s.service_id,
    serviceName: s.service_name,
    itemKind: s.item_kind,
    billingMethod: s.billing_method,
    serviceTypeId: s.service_type_id,
    serviceTypeName: s.service_type_name,
    defaultRate: s.default_rate,
    unitOfMeasure: s.unit_of_measure,
    isActive: s.is_active,
    sku: s.sku,
  }));

function refuseDuplicateIds<T>(idOf: (item: T) => string, field: string) {
  return (items: readonly T[], ctx: z.RefinementCtx): void => {
    const seen = new Set<string>();
    items.forEach((item, index) => {
      const key = idOf(item);
      if (seen.has(key)) ctx.addIssue({ code: 'custom', path: [index, field], message: `duplicate ${field} ${JSON.stringify(key)}` });
      seen.add(key);
    });
  };
}

/** Body of `PUT /admin/v1/tenants/{tenant}/clients`. */
export const replaceClientsBodySchema = z.strictObject({
  items: z.array(clientItemSchema).superRefine(refuseDuplicateIds((c: ClientSummary) => c.clientId, 'client_id')),
});

/** Body of `PUT /admin/v1/tenants/{tenant}/services`. */
export const replaceServicesBodySchema = z.strictObject({
  items: z.array(serviceItemSchema).superRefine(refuseDuplicateIds((s: ServiceSummary) => s.serviceId, 'service_id')),
});

export type ClientItemInput = z.input<typeof clientItemSchema>;
export type ServiceItemInput = z.input<typeof serviceItemSchema>;
