/**
 * The trust bundle: the publisher public keys an operator accepts, as a JSON file:
 *   { "format": "alga-trust-bundle@1",
 *     "keys": [ { "publisher": "Acme", "key_id": "ed25519:<16 hex>", "algorithm": "ed25519",
 *                 "public_key_pem": "-----BEGIN PUBLIC KEY-----..." } ] }
 * An entry without `publisher` trusts the key for any publisher (an operator's own key).
 * Loading recomputes each key id from the key and refuses a file where they disagree.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { keyIdOf } from './key-id.js';

export const TRUST_FORMAT = 'alga-trust-bundle@1';

export const trustEntrySchema = z.strictObject({
  publisher: z.string().min(1).max(128).optional(),
  key_id: z.string().regex(/^ed25519:[0-9a-f]{16}$/, 'must be ed25519:<16 hex>'),
  algorithm: z.literal('ed25519'),
  public_key_pem: z.string().includes('BEGIN PUBLIC KEY', { message: 'must be an SPKI PEM public key' }),
});

export const trustFileSchema = z.strictObject({ format: z.literal(TRUST_FORMAT), keys: z.array(trustEntrySchema) });

export type TrustEntry = z.output<typeof trustEntrySchema>;
export type TrustFile = z.output<typeof trustFileSchema>;

export interface TrustedKey {
  readonly keyId: string;
  readonly publisher: string | undefined;
  readonly publicKey: KeyObject;
}

export interface TrustBundle {
  readonly keys: ReadonlyMap<string, TrustedKey>;
}

export type TrustParse = { readonly kind: 'ok'; readonly trust: TrustBundle } | { readonly kind: 'err'; readonly problems: readonly string[] };

export function parseTrustBundle(value: unknown): TrustParse {
  const parsed = trustFileSchema.safeParse(value);
  if (!parsed.success) return { kind: 'err', problems: parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`) };
  const keys = new Map<string, TrustedKey>();
  const problems: string[] = [];
  parsed.data.keys.forEach((entry, index) => {
    let publicKey: KeyObject;
    try {
      publicKey = createPublicKey(entry.public_key_pem);
    } catch (error) {
      problems.push(`keys.${index}.public_key_pem: ${(error as Error).message}`);
      return;
    }
    if (publicKey.asymmetricKeyType !== 'ed25519') return problems.push(`keys.${index}.public_key_pem: not an Ed25519 key`);
    const actual = keyIdOf(publicKey);
    if (actual !== entry.key_id) return problems.push(`keys.${index}.key_id: is ${entry.key_id} but the key's id is ${actual}`);
    if (keys.has(actual)) return problems.push(`keys.${index}: key ${actual} is listed twice`);
    keys.set(actual, { keyId: actual, publisher: entry.publisher, publicKey });
  });
  return problems.length > 0 ? { kind: 'err', problems } : { kind: 'ok', trust: { keys } };
}

export async function loadTrustBundle(path: string): Promise<TrustParse> {
  let value: unknown;
  try {
    value = JSON.parse(await readFile(path, 'utf8'));
  } catch (error) {
    return { kind: 'err', problems: [`${path}: ${(error as Error).message}`] };
  }
  return parseTrustBundle(value);
}

export function trustEntryFor(publicKeyPem: string, keyId: string, publisher?: string): TrustEntry {
  return { ...(publisher !== undefined ? { publisher } : {}), key_id: keyId, algorithm: 'ed25519', public_key_pem: publicKeyPem };
}
