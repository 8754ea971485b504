/** Token checks for the execute and admin APIs: constant-time, header or Bearer. */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { ServiceError } from './errors.js';
import { networkOf, type IpNetwork } from '../net/ip-networks.js';

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

/**
 * Who may call POST /v1/execute: a caller with the service token, or — when the operator lists
 * networks (RUNNER_TOKENLESS_NETWORKS) — a caller from one of them that sends no token at all.
 * A token that is sent must be right, wherever it comes from. `request.ip` is the socket's peer
 * unless the operator trusts proxies (RUNNER_TRUSTED_PROXIES), whose X-Forwarded-For then counts.
 */
export function requireExecuteCaller(request: FastifyRequest, expected: string, tokenlessNetworks: readonly IpNetwork[]): { via: 'token' } | { via: 'network'; network: string } {
  const header = request.headers['x-runner-service-token'];
  const given = (typeof header === 'string' ? header : undefined) ?? bearer(request);
  if (given === undefined && tokenlessNetworks.length > 0) {
    const network = networkOf(tokenlessNetworks, request.ip);
    if (network) return { via: 'network', network: network.text };
    throw new ServiceError(
      'unauthorized',
      `send the service token as x-runner-service-token or Authorization: Bearer (tokenless calls are accepted only from ${tokenlessNetworks.map((n) => n.text).join(', ')})`,
    );
  }
  requireServiceToken(request, expected);
  return { via: 'token' };
}

export function requireAdminToken(request: FastifyRequest, expected: string): void {
  const given = bearer(request);
  if (!given || !tokensEqual(given, expected)) throw new ServiceError('unauthorized', 'send the admin token as Authorization: Bearer');
}
