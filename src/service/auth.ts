/** Token checks for the execute and admin APIs: constant-time, header or Bearer. */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { ServiceError } from './errors.js';

/** Compares digests so neither the length nor the content of the token leaks through timing. */
export function tokensEqual(given: string, expected: string): boolean {
  return timingSafeEqual(digest(given), expectedDigest(expected));
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}

/** The configured tokens' digests, made once (a process has two tokens). */
const expectedDigests = new Map<string, Buffer>();

function expectedDigest(expected: string): Buffer {
  let d = expectedDigests.get(expected);
  if (!d) {
    if (expectedDigests.size >= 16) expectedDigests.clear();
    expectedDigests.set(expected, (d = digest(expected)));
  }
  return d;
}

function bearer(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (typeof header !== 'string') return undefined;
  const m = /^Bearer\s+(.+)$/i.exec(header.trim());
  return m?.[1];
}

export function requireServiceToken(request: FastifyRequest, expected: string): void {
  const header = request.headers['x-runner-service-token'];
  const given = (typeof header === 'string' ? header : undefined) ?? bearer(request);
  if (!given || !tokensEqual(given, expected)) throw new ServiceError('unauthorized', 'send the service token as x-runner-service-token or Authorization: Bearer');
}

export function requireAdminToken(request: FastifyRequest, expected: string): void {
  const given = bearer(request);
  if (!given || !tokensEqual(given, expected)) throw new ServiceError('unauthorized', 'send the admin token as Authorization: Bearer');
}
