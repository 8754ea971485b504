/** A guest response as JSON for people: body as text when it is valid UTF-8, else base64. */
import type { GuestResponse } from '../contract/index.js';

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

export function responseJson(response: GuestResponse): { status: number; headers: Record<string, string>; body?: string; body_b64?: string } {
  const headers: Record<string, string> = {};
  for (const { name, value } of response.headers) headers[name.toLowerCase()] = headers[name.toLowerCase()] ? `${headers[name.toLowerCase()]}, ${value}` : value;
  const out: { status: number; headers: Record<string, string>; body?: string; body_b64?: string } = { status: response.status, headers };
  if (response.body && response.body.byteLength > 0) {
    try {
      out.body = strictUtf8.decode(response.body);
    } catch {
      out.body_b64 = Buffer.from(response.body).toString('base64');
    }
  }
  return out;
}
