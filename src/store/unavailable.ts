/**
 * Whether an error from the store means "the database cannot be reached right now" — PostgreSQL
 * restarting, shut down, refusing connections, or the network to it gone — rather than a fault in
 * a query. Such a failure is temporary: the pool opens new connections once the server answers
 * again, so callers report it as retryable (the service answers 503 `store_unavailable`) instead of
 * as an internal error.
 */

/**
 * SQLSTATEs of a server that is going away or not yet there: class 08 (connection exception),
 * 57P01 admin_shutdown (a fast or immediate shutdown), 57P02 crash_shutdown, 57P03
 * cannot_connect_now (starting up or shutting down), 53300 too_many_connections.
 */
const UNAVAILABLE_SQLSTATE = /^(08[0-9A-Z]{3}|57P0[123]|53300)$/;

/** Socket errors on the way to the server. */
const UNAVAILABLE_SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'EHOSTDOWN', 'ENETUNREACH', 'ENETDOWN', 'ENOTFOUND', 'EAI_AGAIN']);

/** What `pg`, `pg-pool` and kysely's PostgreSQL driver say when a connection broke or never came up. */
const UNAVAILABLE_MESSAGES = [
  /^Connection terminated unexpectedly$/,
  /^Connection terminated due to connection timeout$/,
  /^Client has encountered a connection error and is not queryable$/,
  /^timeout exceeded when trying to connect$/,
  /^Postgres connection has been discarded$/,
];

export function isStoreUnavailableError(error: unknown): boolean {
  const seen = new Set<unknown>();
  const visit = (e: unknown): boolean => {
    if (e === null || typeof e !== 'object' || seen.has(e)) return false;
    seen.add(e);
    const { code, message, cause, errors } = e as { code?: unknown; message?: unknown; cause?: unknown; errors?: unknown };
    if (typeof code === 'string' && (UNAVAILABLE_SQLSTATE.test(code) || UNAVAILABLE_SOCKET_CODES.has(code))) return true;
    if (typeof message === 'string' && UNAVAILABLE_MESSAGES.some((m) => m.test(message))) return true;
    // a connect to a name with several addresses fails with an AggregateError of each attempt
    if (Array.isArray(errors) && errors.some(visit)) return true;
    return visit(cause);
  };
  return visit(error);
}
