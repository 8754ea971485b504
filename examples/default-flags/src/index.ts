/**
 * A guest built with componentize-js's default flags (see ../build.json). Its component imports
 * wasi:filesystem and wasi:http besides the world's interfaces, which the install pipeline must
 * either serve safely or refuse with advice on build flags. The handler itself needs none of it.
 */
import type { ExecuteRequest, ExecuteResponse } from 'alga:extension/types';

const encoder = new TextEncoder();

export function handler(request: ExecuteRequest): ExecuteResponse {
  return {
    status: 200,
    headers: [{ name: 'content-type', value: 'text/plain' }],
    body: encoder.encode(`default-flags guest: ${request.http.method} ${request.http.url}`),
  };
}
