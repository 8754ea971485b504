/** What storage (`cap:storage.kv`) reads and writes, and its answers: the types kv.ts and its read cache share. */
export interface KvEntry {
  readonly namespace: string;
  readonly key: string;
  readonly value: Uint8Array;
  /** 1 on creation, +1 on every write */
  readonly revision: number;
}

export interface KvPut {
  readonly namespace: string;
  readonly key: string;
  readonly value: Uint8Array;
  /** set → compare-and-swap against this revision (0 = only if absent); unset → upsert */
  readonly revision?: number | undefined;
}

export type KvDenied = { readonly kind: 'denied'; readonly reason: string };
export type KvGetResult = { readonly kind: 'ok'; readonly entry: KvEntry } | { readonly kind: 'missing' } | KvDenied;
export type KvPutResult = { readonly kind: 'ok'; readonly entry: KvEntry } | { readonly kind: 'conflict' } | KvDenied;
export type KvDeleteResult = { readonly kind: 'ok' } | { readonly kind: 'missing' } | KvDenied;
export type KvListResult = { readonly kind: 'ok'; readonly entries: readonly KvEntry[] } | KvDenied;

export interface KvUsage {
  readonly totalBytes: number;
  readonly namespaces: number;
}
