/**
 * The operator's secrets key (`RUNNER_SECRETS_KEY`): exactly 32 bytes, given as 64 hex
 * characters or as base64 of 32 raw bytes. Anything else is refused with a message that says
 * what was expected — never silently stretched or hashed into a key. Messages never echo the
 * value.
 */
export type SecretsKeyParse = { readonly kind: 'ok'; readonly key: Buffer } | { readonly kind: 'invalid'; readonly reason: string };

export const SECRETS_KEY_BYTES = 32;

const HEX_64 = /^[0-9a-fA-F]{64}$/;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
const BASE64URL = /^[A-Za-z0-9_-]+={0,2}$/;

export function parseSecretsKey(input: string | Buffer): SecretsKeyParse {
  if (Buffer.isBuffer(input)) {
    return input.length === SECRETS_KEY_BYTES ? { kind: 'ok', key: Buffer.from(input) } : { kind: 'invalid', reason: `secrets key must be ${SECRETS_KEY_BYTES} bytes, got ${input.length}` };
  }
  const text = input.trim();
  if (HEX_64.test(text)) return { kind: 'ok', key: Buffer.from(text, 'hex') };
  if (BASE64.test(text) || BASE64URL.test(text)) {
    const bytes = Buffer.from(text, BASE64.test(text) ? 'base64' : 'base64url');
    if (bytes.length === SECRETS_KEY_BYTES) return { kind: 'ok', key: bytes };
    return {
      kind: 'invalid',
      reason: `RUNNER_SECRETS_KEY must be 32 bytes as base64 (44 characters) or 64 hex characters; the value given decodes to ${bytes.length} bytes`,
    };
  }
  return {
    kind: 'invalid',
    reason: 'RUNNER_SECRETS_KEY must be 32 bytes as base64 (44 characters) or 64 hex characters; the value given is neither',
  };
}

/** Thrown at start-up only: a misconfigured key is an operator error the service cannot run with. */
export class SecretsKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SecretsKeyError';
  }
}
