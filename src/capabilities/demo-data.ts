/**
 * Demo clients and service catalogue for the embedded tenant-data backend, so an extension run
 * locally (`alga-runner run`, `serve` without Alga) sees plausible MSP data instead of nothing.
 *
 * The set is chosen to exercise what extensions care about: two inactive clients (hidden unless
 * asked for), an individual next to companies, a name with an accent and one in lower case (the
 * sort is case- and accent-insensitive), both item kinds, every billing method, an inactive service.
 * Ids are fixed UUIDs so demo links and tests stay stable across restarts.
 */
import type { ClientSummary, ServiceSummary } from '../store/tenant-data-model.js';
import type { StoreTenantData } from '../store/tenant-data.js';

export const DEMO_TENANT_ID = 'demo';

const sarah = { accountManagerId: '7c1e2a40-5b1d-4f0e-9a57-0d2f6c1b3a01', accountManagerName: 'Sarah Chen' };
const marcus = { accountManagerId: '7c1e2a40-5b1d-4f0e-9a57-0d2f6c1b3a02', accountManagerName: 'Marcus Reid' };
const priya = { accountManagerId: '7c1e2a40-5b1d-4f0e-9a57-0d2f6c1b3a03', accountManagerName: 'Priya Natarajan' };
const noManager = { accountManagerId: undefined, accountManagerName: undefined };

function client(
  n: number,
  clientName: string,
  billingEmail: string | undefined,
  manager: Pick<ClientSummary, 'accountManagerId' | 'accountManagerName'>,
  extra: Partial<Pick<ClientSummary, 'clientType' | 'isInactive' | 'defaultCurrencyCode'>> = {},
): ClientSummary {
  return {
    clientId: `3f9a1c00-8e2b-4c5d-b6a7-${String(n).padStart(12, '0')}`,
    clientName,
    clientType: extra.clientType ?? 'company',
    isInactive: extra.isInactive ?? false,
    defaultCurrencyCode: extra.defaultCurrencyCode ?? 'USD',
    billingEmail,
    ...manager,
  };
}

export const DEMO_CLIENTS: readonly ClientSummary[] = [
  client(1, 'Acme Dental Group', 'accounts@acmedental.example', sarah),
  client(2, 'Brightwater Logistics', 'ap@brightwater-logistics.example', marcus),
  client(3, 'Cedar Ridge Law Partners', 'billing@cedarridgelaw.example', priya),
  client(4, 'Delta Veterinary Clinics', 'office@deltavet.example', sarah),
  client(5, 'Équipe Médicale Dubois', 'comptabilite@equipe-dubois.example', marcus, { defaultCurrencyCode: 'CAD' }),
  client(6, 'Fairview Property Management', 'invoices@fairviewpm.example', priya),
  client(7, 'Granite Peak Engineering', 'finance@granitepeak.example', sarah),
  client(8, 'Harbor City Credit Union', 'vendor-payments@harborcitycu.example', marcus),
  client(9, 'Jordan Miller', 'jordan.miller@mail.example', noManager, { clientType: 'individual' }),
  client(10, 'Lakeside Montessori School', 'bursar@lakesidemontessori.example', priya),
  client(11, 'maple & oak accounting', 'hello@mapleandoak.example', sarah),
  client(12, 'Northwind Traders', 'billing@northwind.example', marcus, { isInactive: true }),
  client(13, 'Summit Outdoor Supply', undefined, noManager, { isInactive: true }),
];

const serviceTypes = {
  managed: { serviceTypeId: '5d0b7e10-2c4a-4b8f-8e31-000000000001', serviceTypeName: 'Managed Services' },
  professional: { serviceTypeId: '5d0b7e10-2c4a-4b8f-8e31-000000000002', serviceTypeName: 'Professional Services' },
  hardware: { serviceTypeId: '5d0b7e10-2c4a-4b8f-8e31-000000000003', serviceTypeName: 'Hardware' },
  licensing: { serviceTypeId: '5d0b7e10-2c4a-4b8f-8e31-000000000004', serviceTypeName: 'Software Licensing' },
  cloud: { serviceTypeId: '5d0b7e10-2c4a-4b8f-8e31-000000000005', serviceTypeName: 'Cloud Services' },
} as const;

function service(
  n: number,
  s: Omit<ServiceSummary, 'serviceId' | 'serviceTypeId' | 'serviceTypeName' | 'isActive'> & { isActive?: boolean },
  type: { serviceTypeId: string; serviceTypeName: string },
): ServiceSummary {
  return { serviceId: `9b4e6d20-1f3a-4e7c-a2d5-${String(n).padStart(12, '0')}`, ...s, isActive: s.isActive ?? true, ...type };
}

export const DEMO_SERVICES: readonly ServiceSummary[] = [
  service(1, { serviceName: 'Managed Workstation', itemKind: 'service', billingMethod: 'fixed', defaultRate: 45, unitOfMeasure: 'device/month', sku: 'MSP-WKS' }, serviceTypes.managed),
  service(2, { serviceName: 'Managed Server', itemKind: 'service', billingMethod: 'fixed', defaultRate: 150, unitOfMeasure: 'server/month', sku: 'MSP-SRV' }, serviceTypes.managed),
  service(3, { serviceName: 'Remote Support', itemKind: 'service', billingMethod: 'hourly', defaultRate: 125, unitOfMeasure: 'hour', sku: undefined }, serviceTypes.professional),
  service(4, { serviceName: 'Onsite Support', itemKind: 'service', billingMethod: 'hourly', defaultRate: 165, unitOfMeasure: 'hour', sku: undefined }, serviceTypes.professional),
  service(5, { serviceName: 'After-hours Emergency Support', itemKind: 'service', billingMethod: 'hourly', defaultRate: 225, unitOfMeasure: 'hour', sku: 'PS-AFTER' }, serviceTypes.professional),
  service(6, { serviceName: 'Cloud Backup & Disaster Recovery', itemKind: 'service', billingMethod: 'usage', defaultRate: 0.12, unitOfMeasure: 'GB/month', sku: 'CLD-BDR' }, serviceTypes.cloud),
  service(7, { serviceName: 'Email Security Filtering', itemKind: 'service', billingMethod: 'usage', defaultRate: 3.5, unitOfMeasure: 'mailbox/month', sku: 'CLD-ESF' }, serviceTypes.cloud),
  service(8, { serviceName: 'Microsoft 365 Business Premium', itemKind: 'product', billingMethod: 'usage', defaultRate: 22, unitOfMeasure: 'user/month', sku: 'LIC-M365-BP' }, serviceTypes.licensing),
  service(9, { serviceName: 'FortiGate 60F Firewall', itemKind: 'product', billingMethod: 'fixed', defaultRate: 895, unitOfMeasure: 'each', sku: 'HW-FG60F' }, serviceTypes.hardware),
  service(10, { serviceName: 'Dell Latitude 5450 Laptop', itemKind: 'product', billingMethod: 'fixed', defaultRate: 1349, unitOfMeasure: 'each', sku: 'HW-DL5450' }, serviceTypes.hardware),
  service(
    11,
    { serviceName: 'Legacy Antivirus Subscription', itemKind: 'product', billingMethod: 'usage', defaultRate: 4, unitOfMeasure: 'device/month', sku: 'LIC-AV-OLD', isActive: false },
    serviceTypes.licensing,
  ),
];

/**
 * Seed a tenant with the demo data, table by table, only where the tenant has none yet: data an
 * operator put there through the admin API is never overwritten. Returns what was seeded.
 */
export async function seedDemoTenantData(store: StoreTenantData, tenantId: string = DEMO_TENANT_ID): Promise<{ clients: boolean; services: boolean }> {
  const existing = await store.countTenantData(tenantId);
  const seeded = { clients: existing.clients === 0, services: existing.services === 0 };
  if (seeded.clients) await store.replaceClients(tenantId, DEMO_CLIENTS);
  if (seeded.services) await store.replaceServices(tenantId, DEMO_SERVICES);
  return seeded;
}
