/**
 * The `secret_envelope` of an execute request (docs/alga.md, "Secrets"): the install's secrets as
 * Alga's server seals them — `inline/base64` (base64 of a JSON object of strings) or
 * `vault-transit:v1` (that JSON, base64, encrypted by Vault's transit engine: vault-transit.ts).
 * Opened here only when the operator allows envelope secrets (RUNNER_ENVELOPE_SECRETS=1); the
 * capability then serves them over the install's stored secrets (capabilities/secrets.ts).
 *
 * Vault's key is the operator's choice: an envelope may name one of the keys the operator lists
 * (RUNNER_VAULT_TRANSIT_KEYS) and the configured mount, nothing else — a caller cannot make the
 * runner decrypt with another key its Vault token may use. Opened Vault envelopes are kept for
 * 30 s (less if the envelope expires sooner), as Alga's runner does, so Vault is not asked per request.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { ServiceError } from './errors.js';
import { decodeBase64 } from './base64.js';
import { transitDecrypt, type VaultTransitSettings } from './vault-transit.js';

export const secretEnvelopeSchema = z.object({
  ciphertext_b64: z.string().max(1024 * 1024),
  algorithm: z.string().max(100).nullish(),
  key_path: z.string().max(200).nullish(),
  mount: z.string().max(200).nullish(),
  version: z.string().max(200).nullish(),
  expires_at: z.string().max(100).nullish(),
});

export type SecretEnvelope = z.infer<typeof secretEnvelopeSchema>;

export interface VaultSettings extends VaultTransitSettings {
  readonly mount: string;
  /** the transit keys an envelope may name; the first is used when it names none */
  readonly keys: readonly string[];
}

const secretValues = z.record(z.string().min(1).max(200), z.string().max(64 * 1024));

/** How long an opened Vault envelope is kept, at most; and how many are. */
const CACHE_MS = 30_000;
const CACHE_ENTRIES = 1024;

export class EnvelopeSecrets {
  private readonly cache = new Map<string, { values: Record<string, string>; expires: number }>();

  constructor(private readonly vault: VaultSettings | null) {}

  /** The envelope's secrets by name; a ServiceError when it cannot be opened. */
  async open(envelope: SecretEnvelope): Promise<Record<string, string>> {
    if (envelope.ciphertext_b64.trim() === '') return {};
    const algorithm = (envelope.algorithm ?? 'inline/base64').trim().toLowerCase();
    if (algorithm === 'inline/base64') return parseValues(decodeBase64(envelope.ciphertext_b64), 'ciphertext_b64');
    if (algorithm.startsWith('vault-transit')) return this.openVault(envelope);
    throw invalid(`algorithm ${JSON.stringify(envelope.algorithm)} is not inline/base64 or vault-transit:v1`);
  }

  private async openVault(envelope: SecretEnvelope): Promise<Record<string, string>> {
    const vault = this.vault;
    if (!vault) throw new ServiceError('secret_decrypt_failed', 'the envelope is vault-transit, and this runner has no Vault (RUNNER_VAULT_ADDR, RUNNER_VAULT_TOKEN, RUNNER_VAULT_TRANSIT_KEYS)');
    const key = envelope.key_path?.replace(/^\/+|\/+$/g, '') || vault.keys[0]!;
    if (!vault.keys.includes(key)) throw invalid(`key_path ${JSON.stringify(key)} is not a transit key this runner may use (RUNNER_VAULT_TRANSIT_KEYS: ${vault.keys.join(', ')})`);
    const mount = envelope.mount?.replace(/^\/+|\/+$/g, '') || vault.mount;
    if (mount !== vault.mount) throw invalid(`mount ${JSON.stringify(mount)} is not this runner's transit mount (RUNNER_VAULT_TRANSIT_MOUNT: ${vault.mount})`);
    const cacheKey = createHash('sha256')
      .update(JSON.stringify([mount, key, envelope.ciphertext_b64]))
      .digest('hex');
    const now = Date.now();
    const cached = this.cache.get(cacheKey);
    if (cached && cached.expires > now) return cached.values;
    const decrypted = await transitDecrypt(vault, mount, key, envelope.ciphertext_b64.trim());
    if (decrypted.kind === 'err') throw new ServiceError('secret_decrypt_failed', decrypted.message);
    // Vault hands the plaintext back as base64 (transitDecrypt decodes it): Alga's server encrypted the JSON itself
    const values = parseValues(decrypted.plaintext, "Vault's plaintext");
    const until = envelope.expires_at ? Date.parse(envelope.expires_at) : NaN;
    const expires = Math.min(now + CACHE_MS, Number.isNaN(until) ? Infinity : until);
    if (expires > now) {
      if (this.cache.size >= CACHE_ENTRIES) this.cache.delete(this.cache.keys().next().value!);
      this.cache.set(cacheKey, { values, expires });
    }
    return values;
  }
}

/** base64 of a JSON object of strings → the object (never echoing the content in an error). */
function parseValues(bytes: Uint8Array | null, what: string): Record<string, string> {
  if (!bytes) throw invalid(`${what} is not valid base64`);
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    throw invalid(`${what} does not decode to JSON`);
  }
  const parsed = secretValues.safeParse(json);
  if (!parsed.success) throw invalid(`${what} does not decode to a JSON object of string values (names 1-200 characters, values up to 64 KiB)`);
  return parsed.data;
}

function invalid(detail: string): ServiceError {
  return new ServiceError('secret_envelope_invalid', detail);
}
