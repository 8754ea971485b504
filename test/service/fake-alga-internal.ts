/**
 * A loopback HTTP server speaking Alga's internal ext-scheduler and ext-invoicing APIs as Alga's
 * route code defines them (Nine-Minds/alga-psa at 432f5f5887:
 * ee/server/src/app/api/internal/ext-scheduler/install/[installId]/route.ts with schedulerHostApi.ts,
 * and ee/server/src/lib/extensions/invoicingInternalApi.ts): `x-runner-auth` checked (401
 * `{error, code: "UNAUTHORIZED"}`), unknown install 404, `{operation, ...}` bodies, create → 201,
 * a failed create/update/delete → 400 with `{success: false, error, fieldErrors?}`, more than 10
 * mutating scheduler calls a minute per install → 429 `RATE_LIMITED`, invoicing without the
 * install's grant → 403, an invalid invoice → 400 `{success: false, error: "Validation error",
 * fieldErrors}`, a created one → 201 `{success: true, invoice: {...}}`. Its own checks are only as
 * deep as these tests need (cron: 5 fields; ids: UUIDs); every request is recorded.
 */
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';

export const RUNNER_AUTH = 'runner-auth-7d1e';

export interface FakeAlgaInstall {
  /** what Alga's install config grants (invoicing checks cap:invoice.manual.create) */
  providers: string[];
}

export interface RecordedCall {
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: Record<string, unknown>;
}

export interface FakeAlgaInternal {
  readonly baseUrl: string;
  readonly calls: RecordedCall[];
  /** the schedules it keeps, by install */
  readonly schedules: Map<string, Record<string, unknown>[]>;
  close(): Promise<void>;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[1-5][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;
const PATH = /^\/api\/internal\/ext-(scheduler|invoicing)\/install\/([^/]+)$/;

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

export async function startFakeAlgaInternal(installs: Record<string, FakeAlgaInstall>): Promise<FakeAlgaInternal> {
  const calls: RecordedCall[] = [];
  const schedules = new Map<string, Record<string, unknown>[]>();
  const mutations = new Map<string, number>();

  function scheduler(installId: string, body: Record<string, unknown>): { status: number; body: unknown } {
    const op = body['operation'];
    if (!['list', 'get', 'create', 'update', 'delete', 'getEndpoints'].includes(String(op))) return { status: 400, body: { error: 'Validation error', details: {} } };
    if (['create', 'update', 'delete'].includes(String(op))) {
      const n = (mutations.get(installId) ?? 0) + 1;
      mutations.set(installId, n);
      if (n > 10) return { status: 429, body: { error: 'Too many requests, please try again later', code: 'RATE_LIMITED', details: null } };
    }
    if (!installs[installId]) return { status: 404, body: { error: 'Install not found', code: 'NOT_FOUND', details: null } };
    const mine = schedules.get(installId) ?? [];
    schedules.set(installId, mine);
    const id = body['scheduleId'];
    if (op !== 'list' && op !== 'create' && op !== 'getEndpoints' && (typeof id !== 'string' || !UUID.test(id))) return { status: 400, body: { error: 'Validation error', details: {} } };
    switch (op) {
      case 'list':
        return { status: 200, body: { schedules: mine } };
      case 'get':
        return { status: 200, body: { schedule: mine.find((s) => s['id'] === id) ?? null } };
      case 'getEndpoints':
        return {
          status: 200,
          body: {
            endpoints: [
              { id: '0b7f3a52-8d0e-4c55-9a55-3e3f8e1b2c01', method: 'POST', path: '/heartbeat', handler: 'dist/main', schedulable: true },
              { id: '0b7f3a52-8d0e-4c55-9a55-3e3f8e1b2c02', method: 'GET', path: '/items/:id', handler: 'dist/main', schedulable: false },
            ],
          },
        };
      case 'create': {
        const cron = String(body['cron'] ?? '');
        if (cron.trim().split(/\s+/).length !== 5) {
          const error = 'Invalid cron expression (expected 5 fields: m h dom mon dow)';
          return { status: 400, body: { success: false, error, fieldErrors: { cron: error } } };
        }
        const schedule = {
          id: randomUUID(),
          endpointPath: String(body['endpoint']).replace(/^(GET|POST)\s+/, ''),
          endpointMethod: 'POST',
          name: body['name'] ?? null,
          cron,
          timezone: body['timezone'] ?? 'UTC',
          enabled: body['enabled'] ?? true,
          payload: body['payload'] ?? null,
          lastRunAt: null,
          lastRunStatus: null,
          lastError: null,
          createdAt: new Date().toISOString(),
        };
        mine.push(schedule);
        return { status: 201, body: { success: true, scheduleId: schedule.id } };
      }
      case 'update': {
        const found = mine.find((s) => s['id'] === id);
        if (!found) return { status: 400, body: { success: false, error: 'Schedule not found' } };
        for (const key of ['cron', 'timezone', 'enabled', 'name', 'payload']) if (key in body) found[key] = body[key];
        return { status: 200, body: { success: true } };
      }
      default: {
        const index = mine.findIndex((s) => s['id'] === id);
        if (index < 0) return { status: 400, body: { success: false, error: 'Schedule not found' } };
        mine.splice(index, 1);
        return { status: 200, body: { success: true } };
      }
    }
  }

  function invoicing(installId: string, body: Record<string, unknown>): { status: number; body: unknown } {
    if (body['operation'] !== 'createManualInvoice') return { status: 400, body: { error: 'Unsupported operation' } };
    const install = installs[installId];
    if (!install) return { status: 404, body: { error: 'Install not found' } };
    if (!install.providers.includes('cap:invoice.manual.create')) return { status: 403, body: { success: false, error: 'Permission denied: cap:invoice.manual.create not granted' } };
    const clientId = body['clientId'];
    if (typeof clientId !== 'string' || !UUID.test(clientId)) return { status: 400, body: { success: false, error: 'Validation error', fieldErrors: { clientId: 'Invalid UUID' } } };
    const items = Array.isArray(body['items']) ? (body['items'] as Record<string, number>[]) : [];
    const subtotal = items.reduce((sum, item) => sum + Math.round(Number(item['quantity']) * Math.round(Number(item['rate']))), 0);
    return { status: 201, body: { success: true, invoice: { invoiceId: randomUUID(), invoiceNumber: 'INV-1042', status: 'draft', subtotal, tax: 0, total: subtotal } } };
  }

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const match = PATH.exec(req.url ?? '');
      let body: Record<string, unknown> = {};
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
      } catch {
        // recorded as {}; answered below
      }
      calls.push({ path: req.url ?? '', headers: req.headers, body });
      if (req.method !== 'POST' || !match) return send(res, 404, { error: 'not found' });
      if (req.headers['x-runner-auth'] !== RUNNER_AUTH) return send(res, 401, { error: 'Invalid runner token', code: 'UNAUTHORIZED', details: null });
      const installId = decodeURIComponent(match[2]!);
      const answer = match[1] === 'scheduler' ? scheduler(installId, body) : invoicing(installId, body);
      send(res, answer.status, answer.body);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    calls,
    schedules,
    async close() {
      server.close();
      server.closeAllConnections();
      await once(server, 'close');
    },
  };
}
