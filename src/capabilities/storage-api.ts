/**
 * `cap:storage.kv` served by Alga's internal storage API, as Alga's own runner calls it
 * (ee/runner/src/engine/host_api.rs, `storage_request`):
 *
 *   POST {base}/api/internal/ext-storage/install/{installId}    x-runner-auth: <token>
 *   {"operation": "get" | "put" | "delete" | "list", "namespace", "key", ...}
 *
 * put sends the bytes as base64 with `metadata.encoding = "base64-bytes"` and the guest's revision
 * as `ifRevision` (compare-and-swap, checked by Alga); answers carry `revision`. Status mapping
 * as Alga's runner: 401/403/429 → denied, 404 → missing, 409 → conflict, anything else → internal.
 * Selected in the Alga-managed mode (RUNNER_REGISTRY=alga), where the install id is Alga's.
 */
import { z } from 'zod';
import type { KvAccess, KvDeleteResult, KvEntry, KvGetResult, KvListResult, KvPutResult } from '../store/kv.js';
import { createAlgaInternalApi, jsonOf, upstreamMessage, type AlgaApiOptions, type AlgaInternalApi, type InternalApiAnswer } from './alga-internal-api.js';

/** Raised for an answer that is none of the mapped ones: the capability answers `internal`. */
export class StorageApiError extends Error {}

const storedValueSchema = z.object({
  namespace: z.string().optional(),
  key: z.string().optional(),
  revision: z.number().int().nonnegative().optional(),
  value: z.unknown().optional(),
  metadata: z.record(z.string(), z.unknown()).nullish(),
});

const putAnswerSchema = z.object({ revision: z.number().int().nonnegative() });
const deleteAnswerSchema = z.object({ success: z.boolean().optional() }).nullish();
const listAnswerSchema = z.object({ items: z.array(storedValueSchema).default([]) });

/**
 * The bytes of a stored value, decoded as Alga's runner decodes them: `base64-bytes` encoding,
 * `{_bytes_b64}`, a base64 string, another string as UTF-8, anything else as its JSON text.
 */
export function decodeStoredValue(value: unknown, metadata: Record<string, unknown> | null | undefined): Uint8Array | null {
  if (metadata?.encoding === 'base64-bytes') return typeof value === 'string' ? strictBase64(value) : null;
  if (value && typeof value === 'object' && !Array.isArray(value) && typeof (value as { _bytes_b64?: unknown })._bytes_b64 === 'string') {
    return strictBase64((value as { _bytes_b64: string })._bytes_b64);
  }
  if (typeof value === 'string') return strictBase64(value) ?? new TextEncoder().encode(value);
  return new TextEncoder().encode(JSON.stringify(value ?? null));
}

function strictBase64(text: string): Uint8Array | null {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) return null;
  return new Uint8Array(Buffer.from(text, 'base64'));
}

function entryOf(raw: z.infer<typeof storedValueSchema>, namespace: string, key: string | undefined): KvEntry {
  const value = decodeStoredValue(raw.value, raw.metadata);
  const entryKey = raw.key ?? key;
  if (value === null || entryKey === undefined) throw new StorageApiError('Alga storage answered an entry that cannot be read');
  return { namespace: raw.namespace ?? namespace, key: entryKey, value, revision: raw.revision ?? 0 };
}

type Mapped = { kind: 'denied'; reason: string } | { kind: 'missing' } | { kind: 'conflict' } | { kind: 'body'; body: unknown };

function mapAnswer(answer: InternalApiAnswer, operation: string): Mapped {
  if (answer.kind === 'unreachable') throw new StorageApiError(`Alga storage ${operation}: ${answer.message}`);
  const { status, text } = answer;
  if (status >= 200 && status < 300) {
    if (text === undefined) throw new StorageApiError(`Alga storage ${operation}: the answer is over the size limit`);
    return { kind: 'body', body: jsonOf(text) };
  }
  if (status === 401 || status === 403 || status === 429) return { kind: 'denied', reason: `Alga storage answered ${status}${upstreamMessage(text)}` };
  if (status === 404) return { kind: 'missing' };
  if (status === 409) return { kind: 'conflict' };
  throw new StorageApiError(`Alga storage ${operation} answered ${status}${upstreamMessage(text)}`);
}

function parsed<T>(schema: z.ZodType<T>, body: unknown, operation: string): T {
  const result = schema.safeParse(body);
  if (!result.success) throw new StorageApiError(`Alga storage ${operation}: unexpected answer (${result.error.issues[0]?.message ?? 'invalid'})`);
  return result.data;
}

/** The storage capability's backend over Alga's ext-storage API (limits are Alga's: the runner's KvLimits are not applied). */
export function createAlgaApiKv(options: AlgaApiOptions, api: AlgaInternalApi = createAlgaInternalApi(options)): KvAccess {
  const call = (installId: string, body: Record<string, unknown>) => api.post('storage', installId, body);
  return {
    async get(installId, namespace, key): Promise<KvGetResult> {
      const answer = mapAnswer(await call(installId, { operation: 'get', namespace, key }), 'get');
      if (answer.kind === 'conflict') throw new StorageApiError('Alga storage get answered 409');
      if (answer.kind !== 'body') return answer;
      return { kind: 'ok', entry: entryOf(parsed(storedValueSchema, answer.body, 'get'), namespace, key) };
    },
    async put(installId, entry): Promise<KvPutResult> {
      const body: Record<string, unknown> = {
        operation: 'put',
        namespace: entry.namespace,
        key: entry.key,
        value: Buffer.from(entry.value).toString('base64'),
        metadata: { encoding: 'base64-bytes' },
      };
      if (entry.revision !== undefined) body.ifRevision = entry.revision;
      const answer = mapAnswer(await call(installId, body), 'put');
      // a compare-and-swap against an entry that is not there is a conflict, as in the runner's own store
      if (answer.kind === 'missing') return { kind: 'conflict' };
      if (answer.kind !== 'body') return answer;
      const { revision } = parsed(putAnswerSchema, answer.body, 'put');
      return { kind: 'ok', entry: { namespace: entry.namespace, key: entry.key, value: entry.value, revision } };
    },
    async delete(installId, namespace, key): Promise<KvDeleteResult> {
      const answer = mapAnswer(await call(installId, { operation: 'delete', namespace, key }), 'delete');
      if (answer.kind === 'conflict') return { kind: 'missing' };
      if (answer.kind !== 'body') return answer;
      // Alga answers {success: false} when there was nothing to delete
      return parsed(deleteAnswerSchema, answer.body, 'delete')?.success === false ? { kind: 'missing' } : { kind: 'ok' };
    },
    async list(installId, namespace, cursor): Promise<KvListResult> {
      const body: Record<string, unknown> = { operation: 'list', namespace, includeValues: true, includeMetadata: true };
      if (cursor !== undefined) body.cursor = cursor;
      const answer = mapAnswer(await call(installId, body), 'list');
      if (answer.kind === 'missing') return { kind: 'ok', entries: [] };
      if (answer.kind === 'conflict') throw new StorageApiError('Alga storage list answered 409');
      if (answer.kind !== 'body') return answer;
      return { kind: 'ok', entries: parsed(listAnswerSchema, answer.body, 'list').items.map((item) => entryOf(item, namespace, undefined)) };
    },
  };
}
