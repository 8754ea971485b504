/**
 * Calls to a runner's admin API for the operator commands. A 2xx answer is returned (parsed JSON,
 * or undefined when empty); an error answer becomes a CliFailure reading `code: message` (and the
 * problems of an invalid request, one a line), so every command fails the same way.
 */
import { CliFailure } from './failure.js';
import type { Profile } from './profile.js';

export interface CallOptions {
  body?: unknown;
  /** raw bytes sent as they are, with this content type (else `body` goes as JSON) */
  bytes?: { data: Uint8Array; contentType: string; headers?: Record<string, string> };
  signal?: AbortSignal;
}

export async function adminFetch(target: Profile, method: string, path: string, options: CallOptions = {}): Promise<Response> {
  const headers: Record<string, string> = { authorization: `Bearer ${target.token}`, ...options.bytes?.headers };
  let body: string | Uint8Array<ArrayBuffer> | undefined;
  if (options.bytes) {
    headers['content-type'] = options.bytes.contentType;
    body = new Uint8Array(options.bytes.data);
  } else if (options.body !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(options.body);
  }
  const url = `${target.url}${path}`;
  let response: Response;
  try {
    response = await fetch(url, { method, headers, body, signal: options.signal });
  } catch (e) {
    const cause = e instanceof Error && e.cause instanceof Error ? e.cause.message : e instanceof Error ? e.message : String(e);
    throw new CliFailure(`cannot reach ${target.url}: ${cause}`);
  }
  if (!response.ok) throw new CliFailure(describeError(response.status, await response.text()));
  return response;
}

export async function adminCall<T = unknown>(target: Profile, method: string, path: string, options: CallOptions = {}): Promise<T> {
  const response = await adminFetch(target, method, path, options);
  const text = await response.text();
  if (text === '') return undefined as T;
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new CliFailure(`${method} ${path}: the runner answered ${response.status} with a body that is not JSON`);
  }
}

/** `code: message`, then each problem of an invalid request; a body that is not the runner's error shape is shown with its status. */
export function describeError(status: number, text: string): string {
  try {
    const parsed = JSON.parse(text) as { error?: { code?: unknown; message?: unknown; problems?: { path?: unknown; message?: unknown }[] } };
    const error = parsed.error;
    if (error && typeof error.code === 'string') {
      const problems = Array.isArray(error.problems) ? error.problems.map((p) => `\n  ${String(p.path)}: ${String(p.message)}`).join('') : '';
      return `${error.code}: ${typeof error.message === 'string' ? error.message : ''}${problems}`;
    }
  } catch {
    // not JSON: shown below
  }
  return `HTTP ${status}: ${text.slice(0, 500) || '(no body)'}`;
}

/** A path segment from a user's argument (an install id, a tenant, a secret name). */
export const seg = (value: string) => encodeURIComponent(value);
