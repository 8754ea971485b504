/**
 * `alga-runner tenant-data clients|services <tenant> <file.json>`: replace what the embedded
 * tenant-data backend returns to cap:client.read / cap:service.read for a tenant
 * (`PUT /admin/v1/tenants/{tenant}/clients|services`).
 */
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { adminCall, seg } from '../admin/client.js';
import { CliFailure } from '../admin/failure.js';
import { printJson, targetOptions, type CommonFlags } from '../admin/output.js';
import { resolveTarget } from '../admin/profile.js';

async function itemsFrom(file: string): Promise<{ items: unknown[] }> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(file, 'utf8'));
  } catch (e) {
    throw new CliFailure(`${file}: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (Array.isArray(parsed)) return { items: parsed };
  if (typeof parsed === 'object' && parsed !== null && Array.isArray((parsed as { items?: unknown }).items)) return parsed as { items: unknown[] };
  throw new CliFailure(`${file}: must be a JSON array of items, or {"items": [...]}`);
}

export function registerTenantDataCommand(program: Command): void {
  const tenantData = program.command('tenant-data').description("replace a tenant's clients or services in the embedded tenant-data backend (used without RUNNER_TENANT_DATA_URL)");
  for (const [what, example] of [
    ['clients', '[{"client_id": "c-1", "client_name": "Acme", "is_inactive": false}]'],
    ['services', '[{"service_id": "s-1", "service_name": "Support", "item_kind": "service", "billing_method": "fixed", "default_rate": 100, "unit_of_measure": "hour"}]'],
  ] as const) {
    targetOptions(tenantData.command(what).description(`replace the tenant's ${what} with the items of a JSON file (PUT /admin/v1/tenants/{tenant}/${what})`))
      .argument('<tenant>', 'tenant id')
      .argument('<file>', `JSON: an array of items or {"items": [...]}, e.g. ${example} (docs/openapi.json has every field)`)
      .action(async (tenant: string, file: string, options: CommonFlags) => {
        const body = await itemsFrom(file);
        const target = await resolveTarget(options);
        await adminCall(target, 'PUT', `/admin/v1/tenants/${seg(tenant)}/${what}`, { body });
        if (options.json) return printJson({ tenant_id: tenant, [what]: body.items.length });
        process.stderr.write(`replaced the ${what} of tenant ${tenant}: ${body.items.length} item(s)\n`);
      });
  }
}
