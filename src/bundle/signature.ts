/**
 * Bundle signatures: Ed25519 over the UTF-8 bytes of the content hash string
 * (`sha256:<hex>`), which itself covers every compressed byte of the bundle.
 *
 * Signature file (`bundle.tar.zst.sig`, JSON):
 *   { "format": "alga-bundle-signature@1", "publisher": "Acme", "key_id": "ed25519:<16 hex>",
 *     "algorithm": "ed25519", "content_hash": "sha256:<hex>", "signature_b64": "<64 bytes, base64>" }
 * `publisher` and `content_hash` are not trusted: the key's trust entry says whom it belongs to,
 * and the content hash is recomputed from the bundle by the verifier.
 *
 * Key id: `ed25519:` + the first 16 hex digits of SHA-256 over the key's SPKI DER encoding.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify } from 'node:crypto';
import { z } from 'zod';
import { isContentHash, type ContentHash } from './content-hash.js';
import type { TrustBundle } from './trust.js';
import { keyIdOf } from './key-id.js';

export const SIGNATURE_FORMAT = 'alga-bundle-signature@1';
export const SIGNATURE_FILE_SUFFIX = '.sig';
/** HTTP header carrying a `.sig` file (base64 of its JSON) with an uploaded bundle. */
export const SIGNATURE_HEADER = 'x-alga-bundle-signature';

export const bundleSignatureSchema = z.strictObject({
  format: z.literal(SIGNATURE_FORMAT),
  publisher: z.string().min(1).max(128),
  key_id: z.string().regex(/^ed25519:[0-9a-f]{16}$/, 'must be ed25519:<16 hex>'),
  algorithm: z.literal('ed25519'),
  content_hash: z.string().refine(isContentHash, 'must be sha256:<64 hex>'),
  signature_b64: z.base64(),
});

export type BundleSignature = z.output<typeof bundleSignatureSchema>;

export type SignatureParse = { readonly kind: 'ok'; readonly signature: BundleSignature } | { readonly kind: 'err'; readonly message: string };

export function parseSignature(text: string): SignatureParse {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { kind: 'err', message: `signature is not JSON: ${(error as Error).message}` };
  }
  const parsed = bundleSignatureSchema.safeParse(value);
  if (!parsed.success) return { kind: 'err', message: `signature is malformed: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}` };
  return { kind: 'ok', signature: parsed.data };
}

export interface SigningKeyPair {
  readonly keyId: string;
  /** PKCS#8 PEM: keep secret (written with mode 0600) */
  readonly privateKeyPem: string;
  /** SPKI PEM */
  readonly publicKeyPem: string;
}

export function generateSigningKeyPair(): SigningKeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    keyId: keyIdOf(publicKey),
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

/** Sign `contentHash` with an Ed25519 private key (PEM). Throws on a key that is not Ed25519. */
export function signContentHash(contentHash: ContentHash, privateKeyPem: string, publisher: string): BundleSignature {
  const privateKey = createPrivateKey(privateKeyPem);
  if (privateKey.asymmetricKeyType !== 'ed25519') throw new TypeError(`signing key must be Ed25519, got ${privateKey.asymmetricKeyType ?? 'unknown'}`);
  const signature = sign(null, Buffer.from(contentHash, 'utf8'), privateKey);
  return {
    format: SIGNATURE_FORMAT,
    publisher,
    key_id: keyIdOf(createPublicKey(privateKey)),
    algorithm: 'ed25519',
    content_hash: contentHash,
    signature_b64: signature.toString('base64'),
  };
}

export type SignatureVerdict =
  | { readonly kind: 'ok'; readonly publisher: string; readonly keyId: string }
  | { readonly kind: 'err'; readonly code: 'unsigned' | 'unknown-key' | 'bad-signature' | 'hash-mismatch'; readonly message: string };

/**
 * Check `signature` for the bundle whose (recomputed) hash is `contentHash` against `trust`.
 * `ok` only after the Ed25519 check passed with a trusted key. `publisher` is the trusted
 * publisher of that key; callers must also require it to equal the manifest's `publisher`.
 */
export function verifyBundleSignature(contentHash: string, signature: BundleSignature | undefined, trust: TrustBundle): SignatureVerdict {
  if (signature === undefined) return { kind: 'err', code: 'unsigned', message: 'the bundle has no signature' };
  if (signature.content_hash !== contentHash) {
    return { kind: 'err', code: 'hash-mismatch', message: `the signature is for ${signature.content_hash}, the bundle is ${contentHash}` };
  }
  const key = trust.keys.get(signature.key_id);
  if (!key) return { kind: 'err', code: 'unknown-key', message: `key ${signature.key_id} is not in the trust bundle` };
  if (key.publisher !== undefined && key.publisher !== signature.publisher) {
    return { kind: 'err', code: 'unknown-key', message: `key ${signature.key_id} is trusted for publisher '${key.publisher}', not '${signature.publisher}'` };
  }
  const bytes = Buffer.from(signature.signature_b64, 'base64');
  let valid = false;
  try {
    valid = bytes.byteLength === 64 && verify(null, Buffer.from(contentHash, 'utf8'), key.publicKey, bytes);
  } catch {
    valid = false;
  }
  if (!valid) return { kind: 'err', code: 'bad-signature', message: `the signature does not verify with key ${signature.key_id}` };
  return { kind: 'ok', publisher: key.publisher ?? signature.publisher, keyId: signature.key_id };
}
