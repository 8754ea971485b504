/**
 * Test support: real HTTP servers on loopback addresses, and a watcher that sees every client
 * socket the process opens (node's `net.client.socket` diagnostics channel), so a test can prove
 * that a refused fetch never tried to connect anywhere.
 */
import http from 'node:http';
import diagnostics from 'node:diagnostics_channel';
import type { AddressInfo, Socket } from 'node:net';

export interface RecordedRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly rawHeaders: readonly string[];
  readonly body: Buffer;
  /** the server-side address the connection arrived at */
  readonly localAddress: string;
}

export type Handler = (req: http.IncomingMessage, res: http.ServerResponse, body: Buffer) => void;

export interface LoopbackServer {
  readonly host: string;
  readonly port: number;
  /** origin, e.g. http://127.0.0.1:40123 */
  readonly origin: string;
  readonly requests: RecordedRequest[];
  /** TCP connections accepted, whether or not a request followed */
  connections: number;
  close(): Promise<void>;
}

export async function startServer(handler: Handler, host = '127.0.0.1'): Promise<LoopbackServer> {
  const requests: RecordedRequest[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, rawHeaders: req.rawHeaders, body, localAddress: req.socket.localAddress ?? '' });
      handler(req, res, body);
    });
  });
  const state: LoopbackServer = {
    host,
    port: 0,
    origin: '',
    requests,
    connections: 0,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  server.on('connection', () => {
    state.connections += 1;
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const shown = host.includes(':') ? `[${host}]` : host;
  return Object.assign(state, { port, origin: `http://${shown}:${port}` });
}

/** Start a server, take its port, close it: the port then refuses connections. */
export async function closedPort(host = '127.0.0.1'): Promise<number> {
  const s = await startServer(() => undefined, host);
  await s.close();
  return s.port;
}

export interface SocketWatch {
  /** remote hosts/addresses of client sockets opened since the watch started */
  readonly opened: Socket[];
  stop(): void;
}

export function watchClientSockets(): SocketWatch {
  const opened: Socket[] = [];
  const listener = (message: unknown): void => {
    opened.push((message as { socket: Socket }).socket);
  };
  diagnostics.subscribe('net.client.socket', listener);
  return { opened, stop: () => diagnostics.unsubscribe('net.client.socket', listener) };
}
