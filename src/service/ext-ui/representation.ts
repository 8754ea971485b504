/**
 * How one UI file is answered: which representation (identity, br, gzip), its strong ETag, and
 * whether the request's conditions and Range make it a 304, a 206 or a 416 (RFC 9110 §13, §14).
 *
 * The ETag names the content hash, the bundle path and the content coding: the bytes behind it
 * can never change (the hash names them), and a compressed body is a different representation,
 * so it gets its own strong validator. Ranges are served from the identity representation only.
 */
import negotiate from '@fastify/accept-negotiator';
import { createHash } from 'node:crypto';
import rangeParser from 'range-parser';
import type { UiFile } from './ui-files.js';

export type Encoding = 'br' | 'gzip' | 'identity';

/** Below this, compression costs more than it saves. */
export const MIN_COMPRESS_BYTES = 256;

export function etagOf(file: Pick<UiFile, 'contentHash' | 'bundlePath'>, encoding: Encoding): string {
  const digest = createHash('sha256').update(`${file.contentHash}\0${file.bundlePath}`).digest('base64url').slice(0, 32);
  return `"${digest}${encoding === 'identity' ? '' : `-${encoding}`}"`;
}

/** If-None-Match against `etag`, with the weak comparison RFC 9110 §13.1.2 asks for. */
export function noneMatch(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  if (header.trim() === '*') return true;
  return header.split(',').some((tag) => tag.trim().replace(/^W\//, '') === etag);
}

export interface ConditionalHeaders {
  readonly range?: string;
  readonly 'if-range'?: string;
  readonly 'if-none-match'?: string;
  readonly 'accept-encoding'?: string;
}

export type ResponsePlan =
  | { readonly kind: 'not-modified'; readonly etag: string }
  | { readonly kind: 'full'; readonly etag: string; readonly encoding: Encoding }
  | { readonly kind: 'partial'; readonly etag: string; readonly start: number; readonly end: number }
  | { readonly kind: 'unsatisfiable'; readonly etag: string };

/**
 * `bytes=` and one or more `first-last` / `first-` / `-suffix` specs. range-parser 1.x calls a
 * malformed spec unsatisfiable (416); RFC 9110 §14.2 says to ignore a Range it cannot parse.
 */
const RANGE_SYNTAX = /^bytes=\s*(?:\d+-\d*|-\d+)(?:\s*,\s*(?:\d+-\d*|-\d+))*\s*$/;

/** One byte range to serve, -1 when none is satisfiable, or undefined when Range does not apply. */
function requestedRange(file: UiFile, headers: ConditionalHeaders): { start: number; end: number } | -1 | undefined {
  if (headers.range === undefined || !RANGE_SYNTAX.test(headers.range)) return undefined;
  // If-Range: serve the range only if the client's copy is this one; a date never matches an ETag
  const ifRange = headers['if-range'];
  if (ifRange !== undefined && ifRange.trim() !== etagOf(file, 'identity')) return undefined;
  const ranges = rangeParser(file.size, headers.range, { combine: true });
  if (ranges === -1) return -1;
  // several ranges (no multipart here): the whole file instead
  if (ranges === -2 || ranges.length !== 1) return undefined;
  return ranges[0]!;
}

export function planResponse(file: UiFile, headers: ConditionalHeaders): ResponsePlan {
  const range = requestedRange(file, headers);
  const acceptEncoding = headers['accept-encoding'];
  const encoding: Encoding = range === undefined && file.compressible && file.size >= MIN_COMPRESS_BYTES && acceptEncoding ? (negotiate(acceptEncoding, ['br', 'gzip']) ?? 'identity') : 'identity';
  const etag = etagOf(file, encoding);
  if (noneMatch(headers['if-none-match'], etag)) return { kind: 'not-modified', etag };
  if (range === -1) return { kind: 'unsatisfiable', etag };
  if (range !== undefined) return { kind: 'partial', etag, start: range.start, end: range.end };
  return { kind: 'full', etag, encoding };
}
