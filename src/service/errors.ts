/**
 * Every error the service answers with, declared once (after Fastify's error catalog): a stable
 * machine-readable code, its HTTP status, and a message template. Codes are part of the API
 * — docs/errors.md lists them; a test (test/service/errors-doc.test.ts) checks the two agree.
 */
export const ERROR_CATALOG = {
  unauthorized: { status: 401, message: 'missing or invalid token' },
  invalid_request: { status: 400, message: 'the request is not valid' },
  tenant_mismatch: { status: 400, message: 'the x-alga-tenant header does not match context.tenant_id' },
  extension_mismatch: { status: 400, message: 'the x-alga-extension header does not match context.extension_id' },
  install_not_found: { status: 404, message: 'no install for this tenant and extension' },
  secret_not_found: { status: 404, message: 'the install has no secret of this name' },
  install_disabled: { status: 403, message: 'the install is disabled' },
  content_hash_mismatch: { status: 409, message: "context.content_hash does not match the install's version" },
  unknown_capability: { status: 400, message: 'unknown capability' },
  too_many_requests: { status: 429, message: 'too many concurrent executions for this tenant' },
  overloaded: { status: 503, message: 'the runner is at capacity' },
  shutting_down: { status: 503, message: 'the runner is shutting down' },
  store_unavailable: { status: 503, message: "the runner's database cannot be reached; try again shortly" },
  idempotency_wait_timeout: { status: 504, message: 'an earlier request with this idempotency key is still running' },
  idempotency_key_reused: { status: 422, message: 'the idempotency key was already used for a different request' },
  body_too_large: { status: 413, message: 'the request body is too large' },
  headers_too_large: { status: 431, message: 'the request headers are too large' },
  request_timeout: { status: 408, message: 'the request was not received in time' },
  unsupported_media_type: { status: 415, message: 'unsupported content type' },
  not_found: { status: 404, message: 'no such route' },
  extension_not_found: { status: 404, message: 'no such extension' },
  version_not_found: { status: 404, message: 'no such version' },
  endpoint_not_found: { status: 404, message: 'the extension declares no such endpoint' },
  no_component: { status: 404, message: "the install's version is a UI-only bundle: it has no component to run, only its UI (/ext-ui) is served" },
  invalid_component: { status: 400, message: 'the component is not valid' },
  invalid_bundle: { status: 400, message: 'the bundle is not valid' },
  bundle_too_large: { status: 413, message: 'the bundle exceeds a size limit' },
  signature_required: { status: 400, message: 'the upload is not a bundle signed by a trusted publisher' },
  version_conflict: { status: 409, message: 'this version already exists with different content' },
  install_exists: { status: 409, message: 'the tenant already has this extension installed' },
  id_conflict: { status: 409, message: 'the id is taken by something else, or what it names has another id' },
  install_not_runnable: { status: 400, message: 'the extension version cannot start with these install settings' },
  secret_envelope_invalid: { status: 400, message: 'the secret_envelope cannot be opened' },
  secret_decrypt_failed: { status: 502, message: 'the secret_envelope could not be decrypted through Vault' },
  component_unavailable: { status: 503, message: "the version's component could not be fetched from the component store and prepared in time; try again shortly" },
  bundle_not_found: { status: 404, message: "Alga's bundle store has no bundle for this tenant, extension and content hash" },
  component_missing: { status: 500, message: "the version's bytes are not in the component store" },
  component_hash_mismatch: { status: 502, message: 'the component store returned bytes that do not match the content hash asked for' },
  component_store_read_only: { status: 409, message: 'the configured component store only reads: uploads need a writable store' },
  secrets_key_missing: { status: 409, message: 'RUNNER_SECRETS_KEY is not set: secrets cannot be stored' },
  internal: { status: 500, message: 'internal error' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERROR_CATALOG;

export class ServiceError extends Error {
  override readonly name = 'ServiceError';
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    detail?: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(detail ? `${ERROR_CATALOG[code].message}: ${detail}` : ERROR_CATALOG[code].message);
    this.status = ERROR_CATALOG[code].status;
  }

  toJSON(): { error: { code: ErrorCode; message: string } & Record<string, unknown> } {
    return { error: { code: this.code, message: this.message, ...this.extra } };
  }
}
