/**
 * The execute envelope of Alga's gateway (`POST /v1/execute`, docs/openapi.json), as a schema. Both gateway variants are
 * accepted: `client_name` or `company_name` for the user's client, `url` present or not; unknown
 * fields are ignored (the gateway adds fields over time).
 */
import { z } from 'zod';
import type { ResponseHeaders } from './guest-response.js';
import { secretEnvelopeSchema } from './secret-envelope.js';

const stringMap = z.record(z.string(), z.string());

export const executeEnvelopeSchema = z.object({
  context: z.object({
    request_id: z.string().min(1).max(200).optional(),
    tenant_id: z.string().min(1).max(200),
    extension_id: z.string().min(1).max(200),
    install_id: z.string().min(1).max(200).nullish(),
    version_id: z.string().min(1).max(200).nullish(),
    content_hash: z
      .string()
      .regex(/^sha256:[0-9a-f]{64}$/, 'must be sha256:<64 hex digits>')
      .nullish(),
    config: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional(),
  }),
  http: z.object({
    method: z.string().regex(/^[A-Za-z]{1,16}$/, 'must be an HTTP method'),
    path: z.string().startsWith('/', 'must start with /').max(8192),
    url: z.string().max(16384).nullish(),
    query: z.record(z.string(), z.union([z.string(), z.array(z.string())])).optional(),
    headers: stringMap.optional(),
    body_b64: z.string().nullish(),
  }),
  limits: z
    .object({
      timeout_ms: z.number().int().positive().optional(),
      memory_mb: z.number().int().positive().optional(),
    })
    .optional(),
  providers: z.array(z.string().startsWith('cap:', 'must be a cap: name')).optional(),
  /** the install's secrets as Alga seals them (secret-envelope.ts); opened only when the operator allows it */
  secret_envelope: secretEnvelopeSchema.nullish(),
  user: z
    .object({
      user_id: z.string(),
      user_email: z.string().default(''),
      user_name: z.string().default(''),
      user_type: z.string().default(''),
      client_name: z.string().optional(),
      company_name: z.string().optional(),
      client_id: z.string().nullish(),
      additional_fields: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).nullish(),
    })
    .nullish(),
});

export type ExecuteEnvelope = z.infer<typeof executeEnvelopeSchema>;

/** The execute API's answer when the guest ran (or was tried). */
export interface ExecuteAnswer {
  status: number;
  /**
   * The guest's headers, lower-cased; a repeated header joined with ", ", except `set-cookie`,
   * which is a list when repeated (guest-response.ts). A null-prototype object when built here.
   */
  headers: ResponseHeaders;
  body_b64?: string;
  /** machine-readable fault code when the guest did not produce a response */
  error?: string;
  message?: string;
}

export { decodeBase64 } from './base64.js';

/** What the guest sees as `http.url`: path + query string. */
export function guestUrl(http: ExecuteEnvelope['http']): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(http.query ?? {})) for (const item of Array.isArray(v) ? v : [v]) params.append(k, item);
  const qs = params.toString();
  if (qs) return `${http.path}?${qs}`;
  if (http.url) {
    try {
      const search = new URL(http.url, 'http://gateway.invalid').search;
      if (search) return `${http.path}${search}`;
    } catch {
      // a malformed url carries no usable query: the path alone stands
    }
  }
  return http.path;
}
