/**
 * Shared by the clients/services capability tests: a real loopback HTTP server that follows
 * Alga's internal ext-clients / ext-services contract (see src/capabilities/tenant-data-api.ts),
 * and an execution context plus recording ExecutionServices to call capability functions with.
 */
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import { once } from 'node:events';
import { EventEmitter } from 'node:events';
import type { AddressInfo } from 'node:net';
import type { ExecutionContext, ExecutionUser } from '../../src/contract/index.js';
import type { ExecutionServices, HostResult } from '../../src/capabilities/capability.js';

export const RUNNER_TOKEN = 'runner-token-5b0c2f';

/** One install's data and behaviour on the fake Alga. Rows are raw JSON, so tests can break them. */
export interface FakeInstall {
  clients?: Record<string, unknown>[];
  services?: Record<string, unknown>[];
  /** answer every call with this status and an Alga-style error body */
  status?: number;
  /** answer 200 with this raw text instead of the computed answer */
  rawAnswer?: string;
  /** spell get answers the way Alga's current route does: `{item}` */
  getAnswerKey?: 'item';
  /** accept the request and never answer */
  hang?: boolean;
}

export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: Record<string, unknown>;
}

export interface FakeAlga {
  readonly baseUrl: string;
  readonly requests: RecordedRequest[];
  /** emits 'request' (RecordedRequest) as each request arrives */
  readonly events: EventEmitter;
  close(): Promise<void>;
}

const PATH = /^\/api\/internal\/ext-(clients|services)\/install\/([^/]+)$/;

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

const lower = (v: unknown) => (typeof v === 'string' ? v.toLowerCase() : '');

function listAnswer(kind: 'clients' | 'services', rows: Record<string, unknown>[], input: Record<string, unknown>): { status: number; body: unknown } {
  const page = input['page'] ?? 1;
  const pageSize = input['pageSize'] ?? 25;
  if (typeof page !== 'number' || page < 1 || typeof pageSize !== 'number' || pageSize < 1 || pageSize > 100) {
    return { status: 400, body: { error: 'Invalid request payload', code: 'INVALID_INPUT' } };
  }
  const nameKey = kind === 'clients' ? 'clientName' : 'serviceName';
  const alsoKey = kind === 'clients' ? 'billingEmail' : 'sku';
  const search = lower(input['search']);
  const matches = rows
    .filter((r) => kind === 'services' || input['includeInactive'] === true || r['isInactive'] !== true)
    .filter((r) => input['itemKind'] === undefined || r['itemKind'] === input['itemKind'])
    .filter((r) => input['isActive'] === undefined || r['isActive'] === input['isActive'])
    .filter((r) => input['billingMethod'] === undefined || r['billingMethod'] === input['billingMethod'])
    .filter((r) => !search || lower(r[nameKey]).includes(search) || lower(r[alsoKey]).includes(search))
    .sort((a, b) => (lower(a[nameKey]) < lower(b[nameKey]) ? -1 : 1));
  const items = matches.slice((page - 1) * pageSize, page * pageSize);
  return { status: 200, body: { items, totalCount: matches.length, page, pageSize } };
}

export async function startFakeAlga(installs: Record<string, FakeInstall>): Promise<FakeAlga> {
  const requests: RecordedRequest[] = [];
  const events = new EventEmitter();
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(text) as Record<string, unknown>;
    } catch {
      return send(res, 400, { error: 'body is not JSON', code: 'INVALID_INPUT' });
    }
    const recorded: RecordedRequest = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body };
    requests.push(recorded);
    events.emit('request', recorded);

    const match = PATH.exec(req.url ?? '');
    if (req.method !== 'POST' || !match) return send(res, 404, { error: 'Not found', code: 'NOT_FOUND' });
    if (req.headers['x-runner-auth'] !== RUNNER_TOKEN) return send(res, 401, { error: 'Invalid runner token', code: 'UNAUTHORIZED' });
    const kind = match[1] as 'clients' | 'services';
    const install = installs[decodeURIComponent(match[2] ?? '')];
    if (!install) return send(res, 404, { error: 'Install not found', code: 'NOT_FOUND' });
    if (install.hang) return undefined;
    if (install.status !== undefined) return send(res, install.status, { error: `Refused with ${install.status}`, code: 'REFUSED' });
    if (install.rawAnswer !== undefined) {
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(install.rawAnswer);
    }
    const rows = (kind === 'clients' ? install.clients : install.services) ?? [];
    if (body['operation'] === 'list') {
      const answer = listAnswer(kind, rows, (body['input'] ?? {}) as Record<string, unknown>);
      return send(res, answer.status, answer.body);
    }
    if (body['operation'] === 'get') {
      const idKey = kind === 'clients' ? 'clientId' : 'serviceId';
      const id = body[idKey];
      const row = rows.find((r) => r[idKey] === id) ?? null;
      return send(res, 200, { [install.getAnswerKey ?? (kind === 'clients' ? 'client' : 'service')]: row });
    }
    return send(res, 400, { error: 'unknown operation', code: 'INVALID_INPUT' });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    requests,
    events,
    async close() {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}

export const USER: ExecutionUser = {
  userId: 'u-42',
  userEmail: 'dana@msp.example',
  userName: 'Dana Scully',
  userType: 'internal',
  clientName: 'Acme Dental Group',
  clientId: 'c-acme',
  additionalFields: { role: 'technician' },
};

export function executionContext(overrides: Partial<ExecutionContext> = {}): ExecutionContext {
  return {
    requestId: 'req-1',
    tenantId: 'tenant-a',
    extensionId: 'ext-1',
    installId: 'inst-1',
    versionId: 'v-1',
    contentHash: 'sha256:00',
    user: USER,
    config: {},
    ...overrides,
  };
}

export interface RecordingServices extends ExecutionServices {
  readonly logs: Array<{ level: string; message: string }>;
  readonly controller: AbortController;
}

export function recordingServices(): RecordingServices {
  const controller = new AbortController();
  const logs: Array<{ level: string; message: string }> = [];
  return {
    logs,
    controller,
    signal: controller.signal,
    log: (level, message) => logs.push({ level, message }),
    noteDenied: () => undefined,
  };
}

/** The ok value of a HostResult, failing the test otherwise. */
export function okValue(result: HostResult): unknown {
  if (result.kind !== 'ok') throw new Error(`expected ok, got ${JSON.stringify(result)}`);
  return result.value;
}
