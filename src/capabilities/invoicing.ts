/**
 * `alga:extension/invoicing` (cap:invoice.manual.create; Alga's dialect only, wit/alga/world.wit):
 * an extension creates a draft manual invoice for a client of its tenant. The backend is the
 * store's (store/invoices.ts) or Alga's internal API (invoicing-api.ts), chosen like the
 * clients/services backend.
 *
 * As in Alga's runner: without the grant the answer is `{success: false, error: "Permission denied:
 * cap:invoice.manual.create not granted"}`, without an install id `{success: false, error:
 * "Permission denied: install_id missing"}`. A backend failure (an exception) answers
 * `{success: false, error: "Internal error"}` with the reason in the install's log.
 */
import type { CreateManualInvoiceInput, InvoicingBackend } from '../store/invoicing-model.js';
import { defineCapability, value, type Capability } from './capability.js';
import { serve } from './dialects.js';
import { ExecutionScope } from './tenant-data-calls.js';

export const INVOICE_MANUAL_CREATE = 'cap:invoice.manual.create';

/** The guest's input as jco lifted it, with anything malformed made empty (then refused by validation). */
function inputOf(raw: unknown): CreateManualInvoiceInput {
  const o = typeof raw === 'object' && raw !== null ? (raw as Record<string, unknown>) : {};
  const items = Array.isArray(o['items']) ? (o['items'] as CreateManualInvoiceInput['items']) : [];
  return { ...(o as object), clientId: typeof o['clientId'] === 'string' ? o['clientId'] : '', items } as CreateManualInvoiceInput;
}

export function createInvoicingCapability(backend: InvoicingBackend): Capability<null, null> {
  return defineCapability<null, null>({
    name: INVOICE_MANUAL_CREATE,
    grantedByDefault: false,
    configure: () => null,
    prepare: () => null,
    interfaces: [
      serve('alga:extension/invoicing', {
        functions: {
          createManualInvoice: async ({ args, ctx, services }) => {
            if (ctx.installId === null) return value({ success: false, error: 'Permission denied: install_id missing' });
            try {
              return value(await backend.createManualInvoice(new ExecutionScope(ctx, ctx.installId, services), inputOf(args[0])));
            } catch (e) {
              services.log('error', `invoicing.create-manual-invoice failed: ${e instanceof Error ? e.message : String(e)}`);
              return value({ success: false, error: 'Internal error' });
            }
          },
        },
        denied: { createManualInvoice: value({ success: false, error: `Permission denied: ${INVOICE_MANUAL_CREATE} not granted` }) },
      }),
    ],
  });
}
