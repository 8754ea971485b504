/**
 * Row types of the runner's own tables, as Kysely sees them. Timestamps are epoch milliseconds
 * (bigint columns) and JSON is stored as text, so both backends hold identical values.
 * Booleans are 0/1 integers for the same reason.
 */
import type { Generated } from 'kysely';

export interface ExtensionsTable {
  id: string;
  name: string;
  publisher: string;
  created_at: number;
}

export interface ExtensionVersionsTable {
  id: string;
  extension_id: string;
  version: string;
  content_hash: string;
  manifest: string;
  created_at: number;
}

export interface InstallsTable {
  id: string;
  tenant_id: string;
  extension_id: string;
  version_id: string;
  grants: string;
  config: string;
  egress_allow: string;
  ui_proxy: string | null;
  limits: string;
  instance_mode: string;
  enabled: number;
  created_at: number;
  updated_at: number;
}

export interface InstallSecretsTable {
  install_id: string;
  name: string;
  iv: Buffer;
  ciphertext: Buffer;
  auth_tag: Buffer;
  expires_at: number | null;
  created_at: number;
}

export interface KvEntriesTable {
  install_id: string;
  namespace: string;
  key: string;
  value: Buffer;
  size: number;
  revision: number;
  updated_at: number;
}

export interface KvNamespacesTable {
  install_id: string;
  namespace: string;
  key_count: number;
}

export interface KvUsageTable {
  install_id: string;
  total_bytes: number;
  namespace_count: number;
}

export interface LogRecordsTable {
  id: Generated<number>;
  install_id: string;
  ts: number;
  level: string;
  stream: string;
  message: string;
  tenant_id: string;
  extension_id: string;
  version_id: string | null;
  request_id: string | null;
  truncated: number;
}

export interface LogUsageTable {
  install_id: string;
  record_count: number;
}

export interface IdempotencyTable {
  tenant_id: string;
  extension_id: string;
  key: string;
  state: string;
  response: string | null;
  ttl_ms: number;
  expires_at: number;
  /** what the claiming request was (a hash; see IdempotencyStore.claim); null for records written before it was kept */
  fingerprint: string | null;
  /** the process holding an in-flight claim (IdempotencyStore's holder); null for records written before it was kept */
  holder: string | null;
}

export interface ComponentBlobsTable {
  content_hash: string;
  file: string;
  bytes: Buffer;
  size: number;
  created_at: number;
}

/** one row (id 1): bumped with every install change (change-feed.ts) */
export interface ChangeFeedTable {
  id: number;
  generation: number;
}

export interface Database {
  extensions: ExtensionsTable;
  extension_versions: ExtensionVersionsTable;
  installs: InstallsTable;
  install_secrets: InstallSecretsTable;
  kv_entries: KvEntriesTable;
  kv_namespaces: KvNamespacesTable;
  kv_usage: KvUsageTable;
  log_records: LogRecordsTable;
  log_usage: LogUsageTable;
  idempotency: IdempotencyTable;
  component_blobs: ComponentBlobsTable;
  change_feed: ChangeFeedTable;
}
