/**
 * One loopback HTTP server playing the parts of Alga PSA an Alga-managed runner talks to, deep
 * enough for Alga's samples and our equivalent of them (examples/alga-samples): its bundle store
 * (`GET /bundles/{key}`), its internal APIs as Alga's runner calls them (`POST
 * /api/internal/ext-{storage,clients,services,scheduler,invoicing}/install/{installId}` with
 * `x-runner-auth`), a ticket API (`GET /api/tickets`, `x-api-key`) for service-proxy-demo, and a
 * ui-proxy upstream that echoes the path (`/upstream/…`). Not Alga: its checks are only as deep as
 * those guests need (the scheduler: endpoints from the install's manifest, GET/POST without
 * parameters schedulable). Every internal API call is recorded.
 */
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

export const FAKE_ALGA_AUTH = 'fake-alga-runner-auth';
export const FAKE_ALGA_API_KEY = 'alga-api-key-1';
export const FAKE_CLIENT_ID = '11111111-1111-4111-8111-111111111111';
export const FAKE_SERVICE_ID = '22222222-2222-4222-8222-222222222222';

export interface ManifestEndpoint {
  readonly method: string;
  readonly path: string;
  readonly handler?: string;
}

export interface FakeAlgaCall {
  readonly api: string;
  readonly installId: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: Record<string, unknown>;
}

/** Any request it received, as it came. */
export interface FakeAlgaRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  /** the JSON body; null when none or not JSON */
  readonly body: Record<string, unknown> | null;
}

export interface FakeAlga {
  readonly url: string;
  /** every request, in order (bundle reads, internal API calls, ticket and upstream calls) */
  readonly requests: FakeAlgaRequest[];
  /** bundle store objects by key (`tenants/{t}/extensions/{e}/sha256/{hex}/bundle.tar.zst`) */
  readonly objects: Map<string, Buffer>;
  /** the manifest endpoints of each install (its scheduler's get-endpoints) */
  readonly endpointsOf: Map<string, readonly ManifestEndpoint[]>;
  readonly calls: FakeAlgaCall[];
  close(): Promise<void>;
}

type Answer = [number, unknown];
type Json = Record<string, unknown>;

/** The ways the Alga suites run: each mode of the runner on each store. */
export interface AlgaLeg {
  mode: 'standalone' | 'managed';
  store: 'SQLite' | 'PostgreSQL';
}

export const ALGA_LEGS: readonly AlgaLeg[] = [
  { mode: 'standalone', store: 'SQLite' },
  { mode: 'managed', store: 'SQLite' },
  { mode: 'standalone', store: 'PostgreSQL' },
  { mode: 'managed', store: 'PostgreSQL' },
];

/** Where Alga's bundle store keeps a bundle (the key Alga's runner fetches). */
export function algaBundleKey(ids: { tenantId: string; registryId: string; contentHash: string }): string {
  return `tenants/${ids.tenantId}/extensions/${ids.registryId}/sha256/${ids.contentHash.slice('sha256:'.length)}/bundle.tar.zst`;
}

/** The runner's settings for Alga-managed mode with this fake as Alga (registry, bundle store, internal API). */
export function managedModeEnv(alga: FakeAlga): Record<string, string> {
  return {
    RUNNER_REGISTRY: 'alga',
    RUNNER_COMPONENT_STORE: 'http',
    RUNNER_COMPONENT_STORE_URL: `${alga.url}/bundles`,
    RUNNER_TENANT_DATA_URL: alga.url,
    RUNNER_TENANT_DATA_TOKEN: FAKE_ALGA_AUTH,
  };
}

export async function startFakeAlga(): Promise<FakeAlga> {
  const objects = new Map<string, Buffer>();
  const kv = new Map<string, Json>();
  const schedules = new Map<string, Json[]>();
  const endpointsOf = new Map<string, readonly ManifestEndpoint[]>();
  const calls: FakeAlgaCall[] = [];
  const requests: FakeAlgaRequest[] = [];
  const client = {
    clientId: FAKE_CLIENT_ID,
    clientName: 'Acme Corp',
    clientType: 'company',
    isInactive: false,
    defaultCurrencyCode: 'USD',
    accountManagerId: null,
    accountManagerName: null,
    billingEmail: 'billing@acme.example',
  };
  const service = {
    serviceId: FAKE_SERVICE_ID,
    serviceName: 'Support',
    itemKind: 'service',
    billingMethod: 'hourly',
    serviceTypeId: null,
    serviceTypeName: null,
    defaultRate: 15000,
    unitOfMeasure: 'hour',
    isActive: true,
    sku: null,
  };
  let invoices = 0;

  const endpoints = (install: string) =>
    (endpointsOf.get(install) ?? []).map((e, i) => ({
      id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
      method: e.method.toUpperCase(),
      path: e.path,
      handler: e.handler ?? '',
      schedulable: ['GET', 'POST'].includes(e.method.toUpperCase()) && !e.path.includes(':'),
    }));

  const handlers: Record<string, (install: string, b: Json) => Answer> = {
    storage(install, b) {
      const id = `${install}\u0000${String(b['namespace'])}\u0000${String(b['key'])}`;
      const found = kv.get(id);
      switch (b['operation']) {
        case 'get':
          return found ? [200, { ...found, ttlExpiresAt: null }] : [404, { error: 'record not found', code: 'NOT_FOUND' }];
        case 'put': {
          if (b['ifRevision'] !== undefined && ((found?.['revision'] as number | undefined) ?? 0) !== b['ifRevision']) return [409, { error: 'revision mismatch', code: 'REVISION_MISMATCH' }];
          const revision = ((found?.['revision'] as number | undefined) ?? 0) + 1;
          kv.set(id, { namespace: b['namespace'], key: b['key'], revision, value: b['value'], metadata: b['metadata'] ?? {} });
          return [200, { namespace: b['namespace'], key: b['key'], revision }];
        }
        case 'delete':
          return [200, { success: kv.delete(id) }];
        default:
          return [200, { items: [...kv.entries()].filter(([k]) => k.startsWith(`${install}\u0000${String(b['namespace'])}\u0000`)).map(([, r]) => r), nextCursor: null }];
      }
    },
    clients: (_i, b) => (b['operation'] === 'get' ? [200, { client: b['clientId'] === FAKE_CLIENT_ID ? client : null }] : [200, { items: [client], totalCount: 1, page: 1, pageSize: 10 }]),
    services: (_i, b) => (b['operation'] === 'get' ? [200, { service: b['serviceId'] === FAKE_SERVICE_ID ? service : null }] : [200, { items: [service], totalCount: 1, page: 1, pageSize: 10 }]),
    scheduler(install, b) {
      const mine = schedules.get(install) ?? [];
      schedules.set(install, mine);
      switch (b['operation']) {
        case 'list':
          return [200, { schedules: mine }];
        case 'get':
          return [200, { schedule: mine.find((s) => s['id'] === b['scheduleId']) ?? null }];
        case 'getEndpoints':
          return [200, { endpoints: endpoints(install) }];
        case 'create': {
          const [, method, path] = /^(?:(GET|POST)\s+)?(.*)$/i.exec(String(b['endpoint'])) ?? [];
          const ep = endpoints(install).find((e) => e.path === path && e.schedulable && (!method || e.method === method.toUpperCase()));
          if (!ep) return [400, { success: false, error: 'Endpoint not found or not schedulable', fieldErrors: { endpoint: 'Endpoint not found or not schedulable' } }];
          const s = {
            id: randomUUID(),
            endpointPath: ep.path,
            endpointMethod: ep.method,
            name: b['name'] ?? null,
            cron: b['cron'],
            timezone: b['timezone'] ?? 'UTC',
            enabled: b['enabled'] ?? true,
            payload: b['payload'] ?? null,
            createdAt: new Date().toISOString(),
          };
          mine.push(s);
          return [201, { success: true, scheduleId: s.id }];
        }
        case 'delete': {
          const i = mine.findIndex((s) => s['id'] === b['scheduleId']);
          if (i < 0) return [400, { success: false, error: 'Schedule not found' }];
          mine.splice(i, 1);
          return [200, { success: true }];
        }
        default:
          return [200, { success: true }];
      }
    },
    invoicing(_i, b) {
      const items = Array.isArray(b['items']) ? (b['items'] as { quantity: number; rate: number }[]) : [];
      const subtotal = items.reduce((sum, it) => sum + Math.round(it.quantity * it.rate), 0);
      invoices++;
      return [201, { success: true, invoice: { invoiceId: randomUUID(), invoiceNumber: `INV-${1000 + invoices}`, status: 'draft', subtotal, tax: 0, total: subtotal } }];
    },
  };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = req.url ?? '';
      const text = Buffer.concat(chunks).toString('utf8');
      let parsed: Json | null = null;
      try {
        parsed = text ? (JSON.parse(text) as Json) : null;
      } catch {
        // recorded as null
      }
      requests.push({ method: req.method ?? '', path, headers: req.headers, body: parsed });
      const send = (status: number, json: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(json));
      if (req.method === 'GET' && path.startsWith('/bundles/')) {
        const object = objects.get(path.slice('/bundles/'.length));
        return object ? res.writeHead(200, { 'content-type': 'application/zstd' }).end(object) : res.writeHead(404).end();
      }
      if (path.startsWith('/api/tickets')) {
        if (req.headers['x-api-key'] !== FAKE_ALGA_API_KEY) return send(401, { error: 'invalid api key' });
        const limit = Number(new URL(path, 'http://x').searchParams.get('limit') ?? '10');
        const tickets = [
          { ticket_id: 'T-1', title: 'Printer on fire', status_name: 'Open' },
          { ticket_id: 'T-2', title: 'VPN down', status_name: 'New' },
        ];
        return send(200, { data: tickets.slice(0, limit) });
      }
      if (path.startsWith('/upstream/')) return send(200, { upstream_path: path.slice('/upstream'.length), install: req.headers['x-ext-install-id'] ?? null });
      const m = /^\/api\/internal\/ext-(storage|clients|services|scheduler|invoicing)\/install\/([^/]+)$/.exec(path);
      if (!m || req.method !== 'POST') return send(404, { error: 'no such route' });
      if (text && parsed === null) return send(400, { error: 'Invalid JSON body' });
      const body = parsed ?? {};
      const installId = decodeURIComponent(m[2]!);
      calls.push({ api: m[1]!, installId, headers: req.headers, body });
      if (req.headers['x-runner-auth'] !== FAKE_ALGA_AUTH) return send(401, { error: 'Invalid runner token', code: 'UNAUTHORIZED' });
      const [status, json] = handlers[m[1]!]!(installId, body);
      send(status, json);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    objects,
    endpointsOf,
    calls,
    requests,
    async close() {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}
