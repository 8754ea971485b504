/**
 * Answers for requests Node's HTTP parser refuses before any route sees them (headers too large,
 * malformed request, headers too slow), in the service's error format instead of Fastify's.
 */
import type { Socket } from 'node:net';
import { STATUS_CODES } from 'node:http';
import { ServiceError, type ErrorCode } from './errors.js';

function codeFor(error: NodeJS.ErrnoException): ErrorCode {
  if (error.code === 'HPE_HEADER_OVERFLOW') return 'headers_too_large';
  if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') return 'request_timeout';
  return 'invalid_request';
}

export function clientErrorHandler(error: NodeJS.ErrnoException, socket: Socket): void {
  // a reset connection has nobody left to answer
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const answer = new ServiceError(codeFor(error));
  const body = JSON.stringify(answer.toJSON());
  if (socket.writable) {
    socket.write(`HTTP/1.1 ${answer.status} ${STATUS_CODES[answer.status]}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n${body}`);
  }
  socket.destroy(error);
}
