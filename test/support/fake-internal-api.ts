/**
 * A loopback server standing in for Alga's internal APIs (`/api/internal/ext-*`): it records each
 * call (path, `x-runner-auth`, JSON body) and answers with whatever the test set last (a status
 * and a raw body) — for checking a backend's requests and its mapping of Alga's answers.
 */
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedCall {
  readonly url: string;
  readonly auth: string | undefined;
  readonly body: unknown;
}

export interface FakeInternalApi {
  readonly baseUrl: string;
  readonly seen: RecordedCall[];
  /** what every later call is answered with */
  answer: { status: number; body: string };
  close(): Promise<void>;
}

export async function startFakeInternalApi(): Promise<FakeInternalApi> {
  const api = { seen: [] as RecordedCall[], answer: { status: 200, body: '{}' } };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      api.seen.push({ url: req.url ?? '', auth: req.headers['x-runner-auth'] as string | undefined, body: JSON.parse(Buffer.concat(chunks).toString('utf8') || 'null') });
      res.writeHead(api.answer.status, { 'content-type': 'application/json' }).end(api.answer.body);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return Object.assign(api, {
    baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    async close() {
      server.close();
      server.closeAllConnections();
      await once(server, 'close');
    },
  });
}
