/**
 * The transport of Alga's install-scoped internal APIs, as Alga's own runner calls them:
 *
 *   POST {base}/api/internal/ext-{resource}/install/{installId}
 *   x-runner-auth: <token>            content-type: application/json
 *
 * `resource` is `clients`, `services` (tenant-data-api.ts), `scheduler` (scheduler-api.ts) or
 * `invoicing` (invoicing-api.ts). The answer is the status and body text; what they mean is each
 * caller's. The token is never logged; redirects are refused; every call has a deadline and a
 * body-size cap, and the execution's end aborts it.
 */
import { z } from 'zod';

export interface AlgaApiOptions {
  /** Alga's base URL, e.g. `https://psa.example.com` (a path prefix is kept). */
  readonly baseUrl: string;
  /** Shared secret sent as `x-runner-auth`; never logged. */
  readonly runnerAuthToken: string;
  /** Per call; the execution's own deadline also aborts the call. Default 10 s. */
  readonly timeoutMs?: number;
  /** Larger answers are refused. Default 4 MiB. */
  readonly maxResponseBytes?: number;
}

const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_MAX_RESPONSE_BYTES = 4 * 1024 * 1024;
/** How much of an upstream error message is repeated in the install's log. */
const UPSTREAM_MESSAGE_CHARS = 200;

/** Alga answered (`text` undefined: the body was over the size cap), or could not be reached. */
export type InternalApiAnswer = { readonly kind: 'answered'; readonly status: number; readonly text: string | undefined } | { readonly kind: 'unreachable'; readonly message: string };

export interface AlgaInternalApi {
  readonly maxResponseBytes: number;
  post(resource: string, installId: string, body: unknown, signal?: AbortSignal): Promise<InternalApiAnswer>;
}

function describeFailure(error: unknown): string {
  if (error instanceof Error) {
    if (error.name === 'TimeoutError') return 'timed out';
    if (error.name === 'AbortError') return 'aborted because the execution ended';
    const cause = (error as { cause?: { code?: unknown; message?: unknown } }).cause;
    if (cause && typeof cause.code === 'string') return `${error.message} (${cause.code})`;
    return error.message;
  }
  return String(error);
}

/** Read a body up to `limit` bytes; `undefined` when it is larger. */
async function readCapped(response: Response, limit: number): Promise<string | undefined> {
  if (!response.body) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return Buffer.concat(chunks).toString('utf8');
    total += value.byteLength;
    if (total > limit) {
      await reader.cancel();
      return undefined;
    }
    chunks.push(value);
  }
}

const upstreamErrorSchema = z.object({ error: z.string() });

/** `: <Alga's error message>` (shortened) when the body carries one, else ''. */
export function upstreamMessage(body: string | undefined): string {
  if (!body) return '';
  try {
    const parsed = upstreamErrorSchema.safeParse(JSON.parse(body));
    return parsed.success ? `: ${parsed.data.error.slice(0, UPSTREAM_MESSAGE_CHARS)}` : '';
  } catch {
    return '';
  }
}

/** The body as JSON, or undefined when it is none. */
export function jsonOf(text: string | undefined): unknown {
  if (text === undefined || text.trim() === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

export function createAlgaInternalApi(options: AlgaApiOptions): AlgaInternalApi {
  const base = new URL(options.baseUrl);
  if (base.protocol !== 'http:' && base.protocol !== 'https:') throw new Error(`Alga API base URL must be http(s), got ${base.protocol}`);
  if (!options.runnerAuthToken) throw new Error('Alga API runner auth token is empty');
  const baseUrl = base.href.replace(/\/+$/, '');
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const maxResponseBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
  return {
    maxResponseBytes,
    async post(resource, installId, body, executionSignal) {
      const url = `${baseUrl}/api/internal/ext-${resource}/install/${encodeURIComponent(installId)}`;
      const timeout = AbortSignal.timeout(timeoutMs);
      const signal = executionSignal ? AbortSignal.any([executionSignal, timeout]) : timeout;
      try {
        const response = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', accept: 'application/json', 'x-runner-auth': options.runnerAuthToken },
          body: JSON.stringify(body),
          redirect: 'error',
          signal,
        });
        return { kind: 'answered', status: response.status, text: await readCapped(response, maxResponseBytes) };
      } catch (error) {
        return { kind: 'unreachable', message: describeFailure(error) };
      }
    },
  };
}
