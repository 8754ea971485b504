/**
 * A loopback HTTP server that holds every request until the test releases it. A guest that
 * fetches it (kitchen-sink `/fetch`) is provably running, and stays running, until the test says
 * so: concurrency, idempotency and shutdown tests synchronise on it instead of on timing.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface HeldRequest {
  url: string;
  release(body?: string): void;
}

export interface Gate {
  /** `http://127.0.0.1:port` */
  origin: string;
  /** requests that have arrived so far */
  readonly arrived: number;
  /** the next request to arrive (or one that arrived and was not taken yet) */
  next(): Promise<HeldRequest>;
  close(): Promise<void>;
}

export async function openGate(): Promise<Gate> {
  const pending: HeldRequest[] = [];
  const takers: ((r: HeldRequest) => void)[] = [];
  const open = new Set<ServerResponse>();
  let arrived = 0;
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    arrived++;
    open.add(res);
    res.on('close', () => open.delete(res));
    req.resume();
    const held: HeldRequest = {
      url: req.url ?? '/',
      release(body = 'released') {
        res.writeHead(200, { 'content-type': 'text/plain' }).end(body);
      },
    };
    const taker = takers.shift();
    if (taker) taker(held);
    else pending.push(held);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    get arrived() {
      return arrived;
    },
    next() {
      const ready = pending.shift();
      return ready ? Promise.resolve(ready) : new Promise((resolve) => takers.push(resolve));
    },
    async close() {
      for (const res of open) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The kitchen-sink `/fetch` request body that makes the guest call the gate. */
export function gateFetch(gate: Gate, tag: string): { method: string; url: string; headers: [string, string][] } {
  return { method: 'GET', url: `${gate.origin}/${tag}`, headers: [] };
}
