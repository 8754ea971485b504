/**
 * A guest's HTTP response, checked before it leaves the runner (the execute API's answer and the
 * dev gateway's reply both come from here). Anything a guest returns that a caller could not
 * relay as HTTP makes the whole response invalid (`invalid_response`), with the reason:
 *
 * - status: 200..599. 1xx (101 would switch protocols under the client) and anything else is refused;
 * - header names: RFC 9110 tokens (so no empty name, no CR/LF/NUL/space, ASCII only), lower-cased;
 * - header values: RFC 9110 field values — no CR, LF, NUL or other control character but HTAB,
 *   and valid UTF-8. A guest's strings arrive decoded with U+FFFD in place of invalid UTF-8, so
 *   U+FFFD itself is refused (and lone surrogates, which UTF-8 cannot encode). Leading and trailing
 *   spaces and tabs are not part of a field value and are trimmed;
 * - body: none for 204 and 304 (an empty body counts as none).
 *
 * Headers are collected in a null-prototype object, so names like `constructor` or `__proto__`
 * are ordinary names, kept as sent. A repeated header is joined with ", " (RFC 9110 §5.3), except
 * `set-cookie`, which cannot be joined (RFC 6265 §3): repeated, it is an array of its values.
 */
import type { GuestResponse } from '../contract/index.js';

/** Header name → value; `set-cookie` is a list when the guest sent it more than once. */
export type ResponseHeaders = Record<string, string | string[]>;

export type CheckedResponse =
  { readonly kind: 'ok'; readonly status: number; readonly headers: ResponseHeaders; readonly body: Uint8Array | undefined } | { readonly kind: 'invalid'; readonly message: string };

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Characters no field value may hold: controls except HTAB, DEL, U+FFFD, lone surrogates. */
// eslint-disable-next-line no-control-regex
const FORBIDDEN_IN_VALUE = /[\u0000-\u0008\u000a-\u001f\u007f\ufffd]|\p{Cs}/u;
const OUTER_WHITESPACE = /^[ \t]+|[ \t]+$/g;
const STATUSES_WITHOUT_BODY = new Set([204, 304]);
/** The one header whose repeated values cannot be joined into one. */
const KEPT_APART = 'set-cookie';

export function checkGuestResponse(response: GuestResponse): CheckedResponse {
  const { status } = response;
  if (!Number.isInteger(status) || status < 200 || status > 599) return invalid(`status ${status} is not a final HTTP status (200..599)`);
  if (STATUSES_WITHOUT_BODY.has(status) && (response.body?.byteLength ?? 0) > 0) return invalid(`status ${status} cannot have a body, and the guest sent ${response.body!.byteLength} bytes`);
  const headers = Object.create(null) as ResponseHeaders;
  for (const [index, { name, value }] of response.headers.entries()) {
    const which = `header ${index + 1} (${describeName(name)})`;
    if (!TOKEN.test(name)) return invalid(`${which}: the name is not an HTTP token${name.length === 0 ? ' (it is empty)' : ''}`);
    const bad = FORBIDDEN_IN_VALUE.exec(value);
    if (bad) return invalid(`${which}: the value contains ${describeChar(bad[0])}`);
    const lower = name.toLowerCase();
    const clean = value.replace(OUTER_WHITESPACE, '');
    const seen = headers[lower];
    if (seen === undefined) headers[lower] = clean;
    else if (lower === KEPT_APART) headers[lower] = [...(Array.isArray(seen) ? seen : [seen]), clean];
    else headers[lower] = `${seen as string}, ${clean}`;
  }
  return { kind: 'ok', status, headers, body: response.body?.byteLength ? response.body : undefined };
}

function invalid(message: string): CheckedResponse {
  return { kind: 'invalid', message: `the guest's response is not valid HTTP: ${message}` };
}

/** The name as JSON (escapes CR, LF and NUL), cut to a readable length. */
function describeName(name: string): string {
  const shown = JSON.stringify(name.length > 64 ? `${name.slice(0, 64)}…` : name);
  return name.length > 64 ? `${shown}, ${name.length} characters` : shown;
}

function describeChar(c: string): string {
  switch (c) {
    case '\r':
      return 'a CR';
    case '\n':
      return 'an LF';
    case '\u0000':
      return 'a NUL';
    case '\ufffd':
      return 'U+FFFD (what invalid UTF-8 in a guest string becomes)';
  }
  const code = c.codePointAt(0)!;
  if (code >= 0xd800 && code <= 0xdfff) return 'a lone surrogate (not encodable as UTF-8)';
  return `the control character U+${code.toString(16).toUpperCase().padStart(4, '0')}`;
}

/**
 * A header value as Node's HTTP writer needs it to put the value's UTF-8 bytes on the wire:
 * Node writes header strings as latin1 and refuses characters above U+00FF.
 */
export function wireValue(value: string): string {
  // eslint-disable-next-line no-control-regex
  return /^[\u0000-\u007f]*$/.test(value) ? value : Buffer.from(value, 'utf8').toString('latin1');
}
