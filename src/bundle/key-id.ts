/** A publisher key's id: `ed25519:` and the first 16 hex digits of the SHA-256 of its SPKI DER. */
import { createHash, type KeyObject } from 'node:crypto';

export function keyIdOf(publicKey: KeyObject): string {
  const der = publicKey.export({ type: 'spki', format: 'der' });
  return `ed25519:${createHash('sha256').update(der).digest('hex').slice(0, 16)}`;
}
