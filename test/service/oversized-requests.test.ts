/**
 * A request refused before its body is read (too large, unauthorized) still delivers its answer:
 * the client, still writing the body, reads the status and the JSON error, then the end of the
 * connection — no reset, no EPIPE. The client here is a raw TCP socket, so the test sees exactly
 * what a client gets, with and without keep-alive, just over the limits and far over them.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { MAX_UPLOAD_BYTES, transportBodyLimit } from '../../src/service/app.js';
import { Lingering } from '../../src/service/linger.js';
import { startTestService, type TestService } from './harness.js';

const MAX_BODY = 10 * 2 ** 20;
const EXECUTE_LIMIT = transportBodyLimit(MAX_BODY);
const MiB = 2 ** 20;
let svc: TestService;

before(async () => {
  svc = await startTestService({ examples: [], env: { RUNNER_MAX_BODY_BYTES: String(MAX_BODY) } });
});
after(async () => svc.close());

interface RawExchange {
  status: number;
  headers: Map<string, string>;
  body: string;
  /** an error the socket reported (ECONNRESET, EPIPE), or null */
  socketError: string | null;
  /** the server ended the connection after the answer */
  ended: boolean;
  bytesWritten: number;
}

const CHUNK = Buffer.alloc(MiB, 0x61);

/**
 * Sends a request with a `size`-byte body (written as fast as the socket takes it, without
 * half-closing, as an HTTP client does), reads what comes back until the server ends the
 * connection, then closes.
 */
function rawRequest(path: string, headers: Record<string, string>, size: number, keepAlive: boolean): Promise<RawExchange> {
  const port = Number(new URL(svc.url).port);
  return new Promise((resolve, reject) => {
    // half-open: the server's end of stream does not end our side; we finish sending the body first
    const socket: Socket = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    const received: Buffer[] = [];
    let socketError: string | null = null;
    let ended = false;
    let written = 0;
    const lines = [`POST ${path} HTTP/1.1`, 'host: 127.0.0.1', `content-length: ${size}`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
    if (!keepAlive) lines.push('connection: close');
    socket.on('data', (c: Buffer) => received.push(c));
    socket.on('error', (e: NodeJS.ErrnoException) => (socketError = e.code ?? e.message));
    socket.on('end', () => {
      ended = true;
      if (written === size) socket.end();
    });
    socket.on('close', () => {
      const text = Buffer.concat(received).toString('latin1');
      const split = text.indexOf('\r\n\r\n');
      if (split < 0) return resolve({ status: 0, headers: new Map(), body: text, socketError, ended, bytesWritten: written });
      const [statusLine, ...headerLines] = text.slice(0, split).split('\r\n');
      const parsed = new Map(headerLines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()] as [string, string]));
      const length = Number(parsed.get('content-length') ?? -1);
      const body = text.slice(split + 4);
      resolve({ status: Number(statusLine!.split(' ')[1]), headers: parsed, body: length >= 0 ? body.slice(0, length) : body, socketError, ended, bytesWritten: written });
    });
    socket.write(`${lines.join('\r\n')}\r\n\r\n`);
    const pump = () => {
      while (written < size && !socket.destroyed) {
        const n = Math.min(CHUNK.byteLength, size - written);
        written += n;
        if (!socket.write(n === CHUNK.byteLength ? CHUNK : CHUNK.subarray(0, n))) return void socket.once('drain', pump);
      }
      if (ended && !socket.destroyed) socket.end();
    };
    pump();
    setTimeout(() => reject(new Error('no end of the exchange in 60 s')), 60_000).unref();
  });
}

function expectRefusal(r: RawExchange, size: number, status: number, code: string, label: string): void {
  assert.equal(r.socketError, null, `${label}: the client saw ${r.socketError} (answer ${r.status} ${r.body})`);
  assert.equal(r.status, status, `${label}: ${r.body}`);
  assert.equal((JSON.parse(r.body) as { error: { code: string } }).error.code, code, label);
  assert.equal(r.headers.get('connection'), 'close', `${label}: the answer says the connection ends`);
  assert.ok(r.ended, `${label}: the server ended the connection after the answer`);
  assert.equal(r.bytesWritten, size, `${label}: the client sent its whole body`);
}

const executeHeaders = { 'content-type': 'application/json', 'x-alga-tenant': 't', 'x-runner-service-token': 'whatever' };

describe('POST /v1/execute over the body limit: 413 body_too_large reaches the client', () => {
  for (const keepAlive of [true, false]) {
    for (const [label, size] of [
      ['just over the limit', EXECUTE_LIMIT + 1],
      ['64 MiB', 64 * MiB],
    ] as const) {
      test(`${label}, ${keepAlive ? 'keep-alive' : 'connection: close'}`, async () => {
        for (let i = 0; i < 3; i++) expectRefusal(await rawRequest('/v1/execute', executeHeaders, size, keepAlive), size, 413, 'body_too_large', `run ${i + 1}`);
      });
    }
  }
});

describe('admin uploads: refused before the body is read, the answer reaches the client', () => {
  for (const keepAlive of [true, false]) {
    test(`64 MiB without the admin token: 401 unauthorized, ${keepAlive ? 'keep-alive' : 'connection: close'}`, async () => {
      expectRefusal(await rawRequest('/admin/v1/extensions', { 'content-type': 'application/zstd', authorization: 'Bearer wrong' }, 64 * MiB, keepAlive), 64 * MiB, 401, 'unauthorized', 'upload');
    });
    test(`an upload just over the ${MAX_UPLOAD_BYTES / MiB} MiB limit: 413 body_too_large, ${keepAlive ? 'keep-alive' : 'connection: close'}`, async () => {
      expectRefusal(
        await rawRequest('/admin/v1/extensions', { 'content-type': 'application/zstd', authorization: `Bearer ${svc.adminToken}` }, MAX_UPLOAD_BYTES + 1, keepAlive),
        MAX_UPLOAD_BYTES + 1,
        413,
        'body_too_large',
        'upload',
      );
    });
  }
});

describe('Lingering bounds', () => {
  let server: Server;
  let port: number;
  const byTime = new Lingering({ maxBytes: 2 ** 40, maxMs: 400 });
  const byBytes = new Lingering({ maxBytes: 2 * MiB, maxMs: 60_000 });
  /** resolves when the server's side of the latest connection is closed */
  let serverClosed: Promise<number> = Promise.resolve(0);

  before(async () => {
    server = createServer((req, res) => {
      serverClosed = new Promise((resolve) => req.socket.once('close', () => resolve(Date.now())));
      (req.url === '/time' ? byTime : byBytes).arm(req.socket);
      res.writeHead(413, { connection: 'close', 'content-type': 'text/plain' }).end('no');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  after(async () => {
    byTime.closeAll();
    byBytes.closeAll();
    await new Promise((resolve) => server.close(resolve));
  });

  /**
   * Declares a 1 GiB body and sends `sent` bytes of it, never closing its side; returns the answer
   * and when the server closed the connection.
   */
  async function stalled(path: string, sent: number): Promise<{ answer: string; closedAfterMs: number; written: number }> {
    const socket = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    let answer = '';
    let written = 0;
    const started = Date.now();
    socket.on('data', (c: Buffer) => (answer += c.toString('latin1')));
    socket.on('error', () => undefined);
    socket.write(`POST ${path} HTTP/1.1\r\nhost: x\r\ncontent-length: ${2 ** 30}\r\n\r\n`);
    const pump = () => {
      while (written < sent && !socket.destroyed) {
        written += CHUNK.byteLength;
        if (!socket.write(CHUNK)) return void socket.once('drain', pump);
      }
    };
    pump();
    await new Promise((resolve) => setTimeout(resolve, 50));
    const closedAt = await serverClosed;
    socket.destroy();
    return { answer, closedAfterMs: closedAt - started, written };
  }

  test('a client that stops sending (and never closes) is cut after the time bound', async () => {
    const r = await stalled('/time', MiB);
    assert.match(r.answer, /^HTTP\/1.1 413/);
    assert.ok(r.closedAfterMs >= 350 && r.closedAfterMs < 5000, `closed after ${r.closedAfterMs} ms`);
    assert.equal(byTime.size, 0);
  });

  test('a client that keeps sending is cut after the byte bound', async () => {
    const r = await stalled('/bytes', 1024 * MiB);
    assert.match(r.answer, /^HTTP\/1.1 413/);
    assert.ok(r.closedAfterMs < 30_000, `closed after ${r.closedAfterMs} ms`);
    assert.ok(r.written < 1024 * MiB, `cut before the client sent everything (${r.written} bytes)`);
    assert.equal(byBytes.size, 0);
  });
});
