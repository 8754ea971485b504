/**
 * The install registry: extensions, their versions and per-tenant installs.
 * JSON columns are parsed with zod on the way out, so a row edited by hand into a wrong shape
 * is a loud error here rather than a surprise in a capability.
 */
import { randomUUID } from 'node:crypto';
import type { Kysely, Selectable } from 'kysely';
import { z } from 'zod';
import type { Database, ExtensionVersionsTable, ExtensionsTable, InstallsTable } from './database.js';
import type { ChangePublisher } from './change-feed.js';

export interface Extension {
  readonly id: string;
  readonly name: string;
  readonly publisher: string;
  readonly createdAt: Date;
}

export interface ExtensionVersion {
  readonly id: string;
  readonly extensionId: string;
  /** semver */
  readonly version: string;
  /** `sha256:<hex>` */
  readonly contentHash: string;
  readonly manifest: Readonly<Record<string, unknown>>;
  readonly createdAt: Date;
}

export type InstanceMode = 'fresh' | 'reuse';

export interface InstallLimits {
  readonly timeoutMs?: number;
  readonly memoryMb?: number;
  readonly [other: string]: unknown;
}

export interface UiProxyConfig {
  readonly baseUrl: string;
  readonly [other: string]: unknown;
}

export interface Install {
  readonly id: string;
  readonly tenantId: string;
  readonly extensionId: string;
  readonly versionId: string;
  readonly grants: readonly string[];
  readonly config: Readonly<Record<string, string>>;
  readonly egressAllow: readonly string[];
  readonly uiProxy: UiProxyConfig | null;
  readonly limits: InstallLimits;
  readonly instanceMode: InstanceMode;
  readonly enabled: boolean;
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

export interface NewInstall {
  /** the install's id; a random UUID when absent (a caller-chosen id: mirroring Alga's registry) */
  readonly id?: string;
  readonly tenantId: string;
  readonly extensionId: string;
  readonly versionId: string;
  readonly grants: readonly string[];
  readonly config?: Readonly<Record<string, string>>;
  readonly egressAllow?: readonly string[];
  readonly uiProxy?: UiProxyConfig | null;
  readonly limits?: InstallLimits;
  readonly instanceMode?: InstanceMode;
  readonly enabled?: boolean;
}

export type InstallPatch = Partial<Omit<NewInstall, 'id' | 'tenantId' | 'extensionId'>>;

export type AddVersionResult =
  | { readonly kind: 'created'; readonly version: ExtensionVersion }
  /** the same version with the same content hash is already there */
  | { readonly kind: 'exists'; readonly version: ExtensionVersion }
  /** the version number is taken by different content */
  | { readonly kind: 'conflict'; readonly existing: ExtensionVersion }
  /** a caller-chosen id: it names another version, or this version has another id */
  | { readonly kind: 'id_conflict'; readonly existing: ExtensionVersion };

export type EnsureExtensionResult =
  | { readonly kind: 'ok'; readonly extension: Extension }
  /** a caller-chosen id: it names another extension, or this publisher and name have another id */
  | { readonly kind: 'id_conflict'; readonly existing: Extension };

export type CreateInstallResult =
  | { readonly kind: 'created'; readonly install: Install }
  /** the tenant already has this extension installed */
  | { readonly kind: 'exists'; readonly install: Install }
  /** a caller-chosen id that an install already has (the same install or not: the caller compares) */
  | { readonly kind: 'id_taken'; readonly install: Install };

export interface RegistryStore {
  /** The extension with this publisher and name, created if absent (safe under races). */
  ensureExtension(input: { name: string; publisher: string }): Promise<Extension>;
  /** The same with a caller-chosen id: created with it, or found with it; any other match is an id conflict. */
  ensureExtensionWithId(input: { id: string; name: string; publisher: string }): Promise<EnsureExtensionResult>;
  getExtension(id: string): Promise<Extension | null>;
  findExtensionsByName(name: string): Promise<Extension[]>;
  listExtensions(): Promise<Extension[]>;

  /** `id`: caller-chosen (else a random UUID); an id naming another version, or this version under another id, is `id_conflict` */
  addVersion(input: { id?: string; extensionId: string; version: string; contentHash: string; manifest: Readonly<Record<string, unknown>> }): Promise<AddVersionResult>;
  getVersion(id: string): Promise<ExtensionVersion | null>;
  findVersion(extensionId: string, version: string): Promise<ExtensionVersion | null>;
  findVersionsByContentHash(contentHash: string): Promise<ExtensionVersion[]>;
  /** oldest first */
  listVersions(extensionId: string): Promise<ExtensionVersion[]>;

  createInstall(input: NewInstall): Promise<CreateInstallResult>;
  getInstall(id: string): Promise<Install | null>;
  findInstall(tenantId: string, extensionId: string): Promise<Install | null>;
  listInstalls(filter?: { tenantId?: string; extensionId?: string }): Promise<Install[]>;
  /** null when there is no such install */
  updateInstall(id: string, patch: InstallPatch): Promise<Install | null>;
  /**
   * Removes the install with everything keyed by it — secrets, storage, logs, and the idempotency
   * records of its tenant and extension — in one transaction; false when there was none. Waits for
   * fenced writes of the install in progress (install-fence.ts), which are deleted with it.
   */
  deleteInstall(id: string): Promise<boolean>;
}

const stringList = z.array(z.string());
const stringMap = z.record(z.string(), z.string());
const uiProxySchema = z.looseObject({ baseUrl: z.string() }).nullable();
const limitsSchema = z.looseObject({ timeoutMs: z.number().optional(), memoryMb: z.number().optional() });
const manifestSchema = z.record(z.string(), z.unknown());
const instanceModeSchema = z.enum(['fresh', 'reuse']);

const toExtension = (r: Selectable<ExtensionsTable>): Extension => ({
  id: r.id,
  name: r.name,
  publisher: r.publisher,
  createdAt: new Date(Number(r.created_at)),
});

const toVersion = (r: Selectable<ExtensionVersionsTable>): ExtensionVersion => ({
  id: r.id,
  extensionId: r.extension_id,
  version: r.version,
  contentHash: r.content_hash,
  manifest: manifestSchema.parse(JSON.parse(r.manifest)),
  createdAt: new Date(Number(r.created_at)),
});

const toInstall = (r: Selectable<InstallsTable>): Install => ({
  id: r.id,
  tenantId: r.tenant_id,
  extensionId: r.extension_id,
  versionId: r.version_id,
  grants: stringList.parse(JSON.parse(r.grants)),
  config: stringMap.parse(JSON.parse(r.config)),
  egressAllow: stringList.parse(JSON.parse(r.egress_allow)),
  uiProxy: uiProxySchema.parse(r.ui_proxy === null ? null : JSON.parse(r.ui_proxy)),
  limits: limitsSchema.parse(JSON.parse(r.limits)),
  instanceMode: instanceModeSchema.parse(r.instance_mode),
  enabled: Number(r.enabled) === 1,
  createdAt: new Date(Number(r.created_at)),
  updatedAt: new Date(Number(r.updated_at)),
});

/** Column values for the mutable install fields present in `patch`. */
function installColumns(patch: InstallPatch): Partial<InstallsTable> {
  const cols: Partial<InstallsTable> = {};
  if (patch.versionId !== undefined) cols.version_id = patch.versionId;
  if (patch.grants !== undefined) cols.grants = JSON.stringify(patch.grants);
  if (patch.config !== undefined) cols.config = JSON.stringify(patch.config);
  if (patch.egressAllow !== undefined) cols.egress_allow = JSON.stringify(patch.egressAllow);
  if (patch.uiProxy !== undefined) cols.ui_proxy = patch.uiProxy === null ? null : JSON.stringify(patch.uiProxy);
  if (patch.limits !== undefined) cols.limits = JSON.stringify(patch.limits);
  if (patch.instanceMode !== undefined) cols.instance_mode = patch.instanceMode;
  if (patch.enabled !== undefined) cols.enabled = patch.enabled ? 1 : 0;
  return cols;
}

/** `changes`: every change to an install is published on the change feed, in its own transaction. */
export function createRegistryStore(db: Kysely<Database>, now: () => number, changes: ChangePublisher | null = null): RegistryStore {
  /** Runs an install change in a transaction that also publishes it; told to this process after the commit. */
  const changing = async <T>(work: (trx: Kysely<Database>) => Promise<T>, installIdOf: (result: T) => string | null): Promise<T> => {
    let published: { installId: string; generation: number } | null = null;
    const result = await db.transaction().execute(async (trx) => {
      const value = await work(trx);
      const installId = installIdOf(value);
      if (installId !== null && changes) published = { installId, generation: await changes.installChanged(trx, installId) };
      return value;
    });
    const done = published as { installId: string; generation: number } | null;
    if (done && changes) changes.committed({ kind: 'install', ...done });
    return result;
  };

  const getInstall = async (id: string) => {
    const row = await db.selectFrom('installs').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? toInstall(row) : null;
  };
  const findInstall = async (tenantId: string, extensionId: string) => {
    const row = await db.selectFrom('installs').selectAll().where('tenant_id', '=', tenantId).where('extension_id', '=', extensionId).executeTakeFirst();
    return row ? toInstall(row) : null;
  };
  const findVersion = async (extensionId: string, version: string) => {
    const row = await db.selectFrom('extension_versions').selectAll().where('extension_id', '=', extensionId).where('version', '=', version).executeTakeFirst();
    return row ? toVersion(row) : null;
  };

  const addVersionWithId = async (id: string, input: { extensionId: string; version: string; contentHash: string; manifest: Readonly<Record<string, unknown>> }): Promise<AddVersionResult> => {
    const inserted = await db
      .insertInto('extension_versions')
      .values({ id, extension_id: input.extensionId, version: input.version, content_hash: input.contentHash, manifest: JSON.stringify(input.manifest), created_at: now() })
      .onConflict((oc) => oc.doNothing())
      .returningAll()
      .executeTakeFirst();
    if (inserted) return { kind: 'created', version: toVersion(inserted) };
    const byId = await db.selectFrom('extension_versions').selectAll().where('id', '=', id).executeTakeFirst();
    if (byId) {
      const same = byId.extension_id === input.extensionId && byId.version === input.version;
      if (!same) return { kind: 'id_conflict', existing: toVersion(byId) };
      return byId.content_hash === input.contentHash ? { kind: 'exists', version: toVersion(byId) } : { kind: 'conflict', existing: toVersion(byId) };
    }
    const existing = await findVersion(input.extensionId, input.version);
    if (!existing) throw new Error(`version ${input.version} of extension ${input.extensionId} conflicted on insert but cannot be read`);
    return existing.contentHash === input.contentHash ? { kind: 'id_conflict', existing } : { kind: 'conflict', existing };
  };

  return {
    async ensureExtension({ name, publisher }) {
      await db
        .insertInto('extensions')
        .values({ id: randomUUID(), name, publisher, created_at: now() })
        .onConflict((oc) => oc.columns(['publisher', 'name']).doNothing())
        .execute();
      const row = await db.selectFrom('extensions').selectAll().where('publisher', '=', publisher).where('name', '=', name).executeTakeFirstOrThrow();
      return toExtension(row);
    },

    async ensureExtensionWithId({ id, name, publisher }) {
      // no conflict target: the id (primary key) and the publisher and name (unique) both stop a second row
      await db
        .insertInto('extensions')
        .values({ id, name, publisher, created_at: now() })
        .onConflict((oc) => oc.doNothing())
        .execute();
      const byId = await db.selectFrom('extensions').selectAll().where('id', '=', id).executeTakeFirst();
      if (byId && byId.name === name && byId.publisher === publisher) return { kind: 'ok', extension: toExtension(byId) };
      const other = byId ?? (await db.selectFrom('extensions').selectAll().where('publisher', '=', publisher).where('name', '=', name).executeTakeFirstOrThrow());
      return { kind: 'id_conflict', existing: toExtension(other) };
    },

    async getExtension(id) {
      const row = await db.selectFrom('extensions').selectAll().where('id', '=', id).executeTakeFirst();
      return row ? toExtension(row) : null;
    },

    async findExtensionsByName(name) {
      const rows = await db.selectFrom('extensions').selectAll().where('name', '=', name).orderBy('created_at').execute();
      return rows.map(toExtension);
    },

    async listExtensions() {
      const rows = await db.selectFrom('extensions').selectAll().orderBy('created_at').orderBy('id').execute();
      return rows.map(toExtension);
    },

    async addVersion({ id, extensionId, version, contentHash, manifest }) {
      if (id !== undefined) return addVersionWithId(id, { extensionId, version, contentHash, manifest });
      const inserted = await db
        .insertInto('extension_versions')
        .values({
          id: randomUUID(),
          extension_id: extensionId,
          version,
          content_hash: contentHash,
          manifest: JSON.stringify(manifest),
          created_at: now(),
        })
        .onConflict((oc) => oc.columns(['extension_id', 'version']).doNothing())
        .returningAll()
        .executeTakeFirst();
      if (inserted) return { kind: 'created', version: toVersion(inserted) };
      const existing = await findVersion(extensionId, version);
      if (!existing) throw new Error(`version ${version} of extension ${extensionId} conflicted on insert but cannot be read`);
      return existing.contentHash === contentHash ? { kind: 'exists', version: existing } : { kind: 'conflict', existing };
    },

    async getVersion(id) {
      const row = await db.selectFrom('extension_versions').selectAll().where('id', '=', id).executeTakeFirst();
      return row ? toVersion(row) : null;
    },

    findVersion,

    async findVersionsByContentHash(contentHash) {
      const rows = await db.selectFrom('extension_versions').selectAll().where('content_hash', '=', contentHash).orderBy('created_at').execute();
      return rows.map(toVersion);
    },

    async listVersions(extensionId) {
      const rows = await db.selectFrom('extension_versions').selectAll().where('extension_id', '=', extensionId).orderBy('created_at').orderBy('id').execute();
      return rows.map(toVersion);
    },

    async createInstall(input) {
      const t = now();
      const inserted = await changing(
        (trx) =>
          trx
            .insertInto('installs')
            .values({
              id: input.id ?? randomUUID(),
              tenant_id: input.tenantId,
              extension_id: input.extensionId,
              version_id: input.versionId,
              grants: JSON.stringify(input.grants),
              config: JSON.stringify(input.config ?? {}),
              egress_allow: JSON.stringify(input.egressAllow ?? []),
              ui_proxy: input.uiProxy ? JSON.stringify(input.uiProxy) : null,
              limits: JSON.stringify(input.limits ?? {}),
              instance_mode: input.instanceMode ?? 'fresh',
              enabled: input.enabled === false ? 0 : 1,
              created_at: t,
              updated_at: t,
            })
            // a caller-chosen id may also be taken: no conflict target then, so the primary key stops it too
            .onConflict((oc) => (input.id === undefined ? oc.columns(['tenant_id', 'extension_id']).doNothing() : oc.doNothing()))
            .returningAll()
            .executeTakeFirst(),
        (row) => row?.id ?? null,
      );
      if (inserted) return { kind: 'created', install: toInstall(inserted) };
      const taken = input.id === undefined ? null : await getInstall(input.id);
      if (taken) return { kind: 'id_taken', install: taken };
      const existing = await findInstall(input.tenantId, input.extensionId);
      if (!existing) throw new Error(`install of ${input.extensionId} for ${input.tenantId} conflicted on insert but cannot be read`);
      return { kind: 'exists', install: existing };
    },

    getInstall,
    findInstall,

    async listInstalls(filter = {}) {
      let query = db.selectFrom('installs').selectAll();
      if (filter.tenantId !== undefined) query = query.where('tenant_id', '=', filter.tenantId);
      if (filter.extensionId !== undefined) query = query.where('extension_id', '=', filter.extensionId);
      const rows = await query.orderBy('created_at').orderBy('id').execute();
      return rows.map(toInstall);
    },

    async updateInstall(id, patch) {
      const updated = await changing(
        (trx) =>
          trx
            .updateTable('installs')
            .set({ ...installColumns(patch), updated_at: now() })
            .where('id', '=', id)
            .returningAll()
            .executeTakeFirst(),
        (row) => row?.id ?? null,
      );
      return updated ? toInstall(updated) : null;
    },

    async deleteInstall(id) {
      const removed = await changing(
        async (trx) => {
          // First the install's row: on PostgreSQL this waits for the fenced writes in progress
          // (install-fence.ts), so the deletes below see what they committed.
          const row = await trx.deleteFrom('installs').where('id', '=', id).returning(['id', 'tenant_id', 'extension_id']).executeTakeFirst();
          if (!row) return null;
          // Everything keyed by the install goes with it, in the same transaction.
          await trx.deleteFrom('install_secrets').where('install_id', '=', id).execute();
          await trx.deleteFrom('kv_entries').where('install_id', '=', id).execute();
          await trx.deleteFrom('kv_namespaces').where('install_id', '=', id).execute();
          await trx.deleteFrom('kv_usage').where('install_id', '=', id).execute();
          await trx.deleteFrom('log_records').where('install_id', '=', id).execute();
          await trx.deleteFrom('log_usage').where('install_id', '=', id).execute();
          // a tenant installing the extension again starts without the old install's answers
          await trx.deleteFrom('idempotency').where('tenant_id', '=', row.tenant_id).where('extension_id', '=', row.extension_id).execute();
          return row;
        },
        (row) => row?.id ?? null,
      );
      return removed !== null;
    },
  };
}
