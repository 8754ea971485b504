/**
 * What extensions made through the scheduler and invoicing capabilities, as the store backends keep
 * it (without RUNNER_TENANT_DATA_URL; with it, Alga keeps them and these lists stay empty):
 *
 *   GET /admin/v1/installs/{id}/schedules     an install's schedules, with their last run and next due time
 *   GET /admin/v1/tenants/{tenant}/invoices   a tenant's draft manual invoices, newest first, with their items
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { StoredSchedule } from '../../store/schedules.js';
import type { StoredInvoice } from '../../store/invoices.js';
import { ServiceError } from '../errors.js';
import type { Runtime } from '../runtime.js';
import { parseWith } from '../validation.js';
import { ADMIN_SECURITY, documented, errorResponses, fromZod } from '../openapi.js';

const installParams = z.object({ id: z.string().min(1) });
const tenantParams = z.object({ tenant: z.string().min(1).max(200) });

const nullableString = { type: ['string', 'null'] };
const scheduleShape = {
  type: 'object',
  required: ['schedule_id', 'tenant_id', 'install_id', 'endpoint_method', 'endpoint_path', 'name', 'cron', 'timezone', 'enabled', 'payload', 'created_at', 'next_run_at', 'last_run'],
  properties: {
    schedule_id: { type: 'string', format: 'uuid' },
    tenant_id: { type: 'string' },
    install_id: { type: 'string' },
    endpoint_method: { enum: ['GET', 'POST'] },
    endpoint_path: { type: 'string' },
    name: nullableString,
    cron: { type: 'string', description: '5 fields: m h dom mon dow' },
    timezone: { type: 'string' },
    enabled: { type: 'boolean' },
    payload: { description: 'the JSON object or array sent as the body of a POST run (null: none)' },
    created_at: { type: 'string', format: 'date-time' },
    next_run_at: { type: ['string', 'null'], format: 'date-time', description: 'when it is next due (null: disabled, or this runner does not run schedules)' },
    last_run: {
      anyOf: [
        {
          type: 'object',
          required: ['at', 'status', 'error'],
          properties: { at: { type: 'string', format: 'date-time' }, status: { enum: ['success', 'error'] }, error: nullableString },
        },
        { type: 'null' },
      ],
    },
  },
};
const invoiceShape = {
  type: 'object',
  required: ['invoice_id', 'invoice_number', 'client_id', 'invoice_date', 'due_date', 'po_number', 'status', 'subtotal', 'tax', 'total', 'is_manual', 'install_id', 'created_at', 'items'],
  properties: {
    invoice_id: { type: 'string', format: 'uuid' },
    invoice_number: { type: 'string' },
    client_id: { type: 'string' },
    invoice_date: { type: 'string', format: 'date' },
    due_date: { type: 'string', format: 'date' },
    po_number: nullableString,
    status: { type: 'string' },
    subtotal: { type: 'integer', description: 'in cents, as Alga keeps amounts' },
    tax: { type: 'integer' },
    total: { type: 'integer' },
    is_manual: { type: 'boolean' },
    install_id: { ...nullableString, description: 'the install whose extension created it' },
    created_at: { type: 'string', format: 'date-time' },
    items: {
      type: 'array',
      items: {
        type: 'object',
        required: ['item_id', 'service_id', 'description', 'quantity', 'unit_price', 'net_amount', 'is_discount', 'discount_type', 'applies_to_item_id'],
        properties: {
          item_id: { type: 'string' },
          service_id: { type: 'string' },
          description: { type: 'string' },
          quantity: { type: 'number' },
          unit_price: { type: 'integer' },
          net_amount: { type: 'integer' },
          is_discount: { type: 'boolean' },
          discount_type: { anyOf: [{ enum: ['percentage', 'fixed'] }, { type: 'null' }] },
          applies_to_item_id: nullableString,
        },
      },
    },
  },
};

const admin = (summary: string, rest: Record<string, unknown>) => documented({ summary, tags: ['admin'], security: ADMIN_SECURITY, ...rest });
const common = ['unauthorized', 'shutting_down', 'store_unavailable', 'invalid_request'] as const;
const schemas = {
  schedules: admin("The install's schedules (cap:scheduler.manage, store backend), oldest first, with their last run", {
    params: fromZod(installParams),
    response: { 200: { type: 'object', required: ['schedules'], properties: { schedules: { type: 'array', items: scheduleShape } } }, ...errorResponses(...common, 'install_not_found') },
  }),
  invoices: admin("The tenant's draft manual invoices (cap:invoice.manual.create, store backend), newest first", {
    params: fromZod(tenantParams),
    response: { 200: { type: 'object', required: ['invoices'], properties: { invoices: { type: 'array', items: invoiceShape } } }, ...errorResponses(...common) },
  }),
};

function scheduleJson(s: StoredSchedule) {
  return {
    schedule_id: s.id,
    tenant_id: s.tenantId,
    install_id: s.installId,
    endpoint_method: s.endpointMethod,
    endpoint_path: s.endpointPath,
    name: s.name ?? null,
    cron: s.cron,
    timezone: s.timezone,
    enabled: s.enabled,
    payload: s.payload === undefined ? null : (JSON.parse(s.payload) as unknown),
    created_at: s.createdAt ?? null,
    next_run_at: s.nextRunAt,
    last_run: s.lastRunAt ? { at: s.lastRunAt, status: s.lastRunStatus ?? null, error: s.lastError ?? null } : null,
  };
}

function invoiceJson(i: StoredInvoice) {
  return {
    invoice_id: i.invoiceId,
    invoice_number: i.invoiceNumber,
    client_id: i.clientId,
    invoice_date: i.invoiceDate,
    due_date: i.dueDate,
    po_number: i.poNumber,
    status: i.status,
    subtotal: i.subtotal,
    tax: i.tax,
    total: i.total,
    is_manual: i.isManual,
    install_id: i.installId,
    created_at: i.createdAt,
    items: i.items.map((item) => ({
      item_id: item.itemId,
      service_id: item.serviceId,
      description: item.description,
      quantity: item.quantity,
      unit_price: item.unitPrice,
      net_amount: item.netAmount,
      is_discount: item.isDiscount,
      discount_type: item.discountType,
      applies_to_item_id: item.appliesToItemId,
    })),
  };
}

export function adminScheduleInvoiceRoutes(app: FastifyInstance, runtime: Runtime): void {
  app.get('/admin/v1/installs/:id/schedules', schemas.schedules, async (request) => {
    const { id } = parseWith(installParams, request.params, 'params');
    if (!(await runtime.store.registry.getInstall(id))) throw new ServiceError('install_not_found', id);
    return { schedules: (await runtime.scheduleStore.listInstallSchedules(id)).map(scheduleJson) };
  });
  app.get('/admin/v1/tenants/:tenant/invoices', schemas.invoices, async (request) => {
    const { tenant } = parseWith(tenantParams, request.params, 'params');
    return { invoices: (await runtime.invoiceStore.listInvoices(tenant)).map(invoiceJson) };
  });
}
