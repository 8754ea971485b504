/**
 * Refusals that reach the client. A request refused before its body was read (too large,
 * unauthorized, shutting down) is answered while the client may still be sending that body. If
 * the server then closed the socket outright, the unread bytes would make the kernel reset the
 * connection, and a client still writing sees ECONNRESET or EPIPE — often before it has read the
 * answer. So such an answer says `Connection: close`, and once it is written the connection is
 * closed gracefully instead: the server half-closes (the client reads the answer, then end of
 * stream) and keeps reading and discarding what the client still sends, until the client closes
 * its side or a bound is reached (bytes or time), and only then closes the socket.
 *
 * Node closes a `Connection: close` connection by calling the socket's `destroySoon()` after the
 * response is written; an armed socket gets its own `destroySoon` that lingers instead.
 */
import type { Socket } from 'node:net';

export interface LingerBounds {
  /** bytes the client may still send after the answer before the connection is cut */
  readonly maxBytes: number;
  /** how long after the answer the client may keep sending */
  readonly maxMs: number;
}

/** Enough for the largest upload refused at the limit, twice over; on a LAN that is seconds. */
export const DEFAULT_LINGER_BOUNDS: LingerBounds = { maxBytes: 256 * 2 ** 20, maxMs: 10_000 };

const POLL_MS = 25;

export class Lingering {
  private readonly armed = new WeakSet<Socket>();
  private readonly lingering = new Set<Socket>();
  private closing = false;

  constructor(private readonly bounds: LingerBounds = DEFAULT_LINGER_BOUNDS) {}

  /** sockets currently lingering */
  get size(): number {
    return this.lingering.size;
  }

  /** The next time Node would close this socket, linger instead (idempotent). */
  arm(socket: Socket): void {
    if (this.armed.has(socket) || socket.destroyed) return;
    this.armed.add(socket);
    const original = socket.destroySoon.bind(socket);
    let started = false;
    socket.destroySoon = () => {
      if (started) return;
      started = true;
      if (this.closing) original();
      else this.linger(socket);
    };
  }

  /** Cut every lingering connection (the server is shutting down); later ones close at once. */
  closeAll(): void {
    this.closing = true;
    for (const socket of this.lingering) socket.destroy();
    this.lingering.clear();
  }

  private linger(socket: Socket): void {
    this.lingering.add(socket);
    const readBefore = socket.bytesRead;
    // our answer, then FIN: the client sees the whole answer and the end of the stream
    socket.end();
    const close = () => socket.destroy();
    // the client closed its side: everything it sent was read; close once our answer is out
    const closeWhenFlushed = () => (socket.writableFinished ? close() : socket.once('finish', close));
    socket.once('end', closeWhenFlushed);
    const timer = setTimeout(close, this.bounds.maxMs);
    // the parser, not a 'data' listener, reads the socket: count what it read
    const poll = setInterval(() => {
      if (socket.bytesRead - readBefore > this.bounds.maxBytes) close();
    }, POLL_MS);
    timer.unref();
    poll.unref();
    socket.once('close', () => {
      clearTimeout(timer);
      clearInterval(poll);
      this.lingering.delete(socket);
    });
  }
}
