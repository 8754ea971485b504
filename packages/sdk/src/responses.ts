/** Building a handler's answer: JSON, text, a bare status. */
import type { ExecuteResponse, HttpHeader } from './generated/seed.js';

export type Response = ExecuteResponse;

export interface ResponseInit {
  readonly status?: number;
  readonly headers?: Readonly<Record<string, string>>;
}

const encoder = new TextEncoder();

function headerList(defaults: Record<string, string>, extra: Readonly<Record<string, string>> = {}): HttpHeader[] {
  const merged = new Map<string, HttpHeader>();
  for (const [name, value] of Object.entries({ ...defaults, ...extra })) merged.set(name.toLowerCase(), { name: name.toLowerCase(), value });
  return [...merged.values()];
}

/** JSON with content-type application/json (200 unless told); bigints are written as strings. */
export function json(value: unknown, init: ResponseInit = {}): Response {
  const text = JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)) ?? 'null';
  return { status: init.status ?? 200, headers: headerList({ 'content-type': 'application/json' }, init.headers), body: encoder.encode(text) };
}

/** Plain text (content-type text/plain; charset=utf-8 unless told). */
export function text(body: string, init: ResponseInit = {}): Response {
  return { status: init.status ?? 200, headers: headerList({ 'content-type': 'text/plain; charset=utf-8' }, init.headers), body: encoder.encode(body) };
}

/** A status with no body (204, 202, …). */
export function status(code: number, init: Omit<ResponseInit, 'status'> = {}): Response {
  return { status: code, headers: headerList({}, init.headers), body: undefined };
}

/** An error answer in the runner's shape: `{ "error": code, "message"?: … }`. */
export function problem(code: number, error: string, message?: string): Response {
  return json(message === undefined ? { error } : { error, message }, { status: code });
}
