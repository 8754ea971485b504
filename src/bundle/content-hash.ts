/**
 * Content hashes: `sha256:<64 lowercase hex>` of a bundle's compressed bytes.
 * The hash names a bundle everywhere (store keys, cache directories, UI URLs, signatures), so
 * every string that claims to be one goes through `parseContentHash` before it touches a path.
 */
import { createHash } from 'node:crypto';

export type ContentHash = `sha256:${string}`;

const CONTENT_HASH = /^sha256:([0-9a-f]{64})$/;

export function contentHashOf(bytes: Uint8Array): ContentHash {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

/** The hex part of a well-formed content hash, or `undefined` for anything else. */
export function contentHashHex(value: string): string | undefined {
  return CONTENT_HASH.exec(value)?.[1];
}

export function isContentHash(value: unknown): value is ContentHash {
  return typeof value === 'string' && CONTENT_HASH.test(value);
}
