/**
 * Install secrets, encrypted at rest (`cap:secrets.get`; docs/security.md).
 *
 * Each row is sealed with AES-256-GCM under the operator's key, with a fresh random 96-bit IV
 * per row, and with the install id and secret name as additional authenticated data — so a row
 * copied to another install or name fails to decrypt instead of leaking a value there.
 * Plaintext exists only in memory between `putSecrets`/`getSecret` and the caller: it never goes
 * to a log line or an error message from this module.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database } from './database.js';
import type { SqliteReader } from './sqlite-reader.js';
import { SecretsKeyError } from './secrets-key.js';
import type { InstallFence } from './install-fence.js';
import type { ChangeFeed, ChangePublisher } from './change-feed.js';
import { ScopedReadCache } from './read-cache.js';

export type SecretLookup =
  | { readonly kind: 'ok'; readonly value: string }
  | { readonly kind: 'missing' }
  | { readonly kind: 'expired' }
  /** the row exists but does not open under this key (wrong key, or a tampered/moved row) */
  | { readonly kind: 'undecryptable' };

/** `missing`: with a fence, the install is not (or no longer) there; nothing was stored */
export type PutSecretsResult = { readonly kind: 'ok' } | { readonly kind: 'no-key' } | { readonly kind: 'missing' };

/** `missing`: with a fence, the install is not (or no longer) there */
export type DeleteSecretResult = { readonly kind: 'ok' } | { readonly kind: 'absent' } | { readonly kind: 'missing' };

export interface SecretsStore {
  /** Whether a key is configured (without one, secrets can be neither written nor read). */
  readonly keyConfigured: boolean;
  /**
   * Replace the install's whole secret set with `values` (names not given are removed).
   * `expiresAt` applies to every value of this call.
   */
  putSecrets(installId: string, values: Readonly<Record<string, string>>, expiresAt?: Date): Promise<PutSecretsResult>;
  /** Set these names (the install's other secrets stay as they are). */
  mergeSecrets(installId: string, values: Readonly<Record<string, string>>, expiresAt?: Date): Promise<PutSecretsResult>;
  /** Remove one secret; `absent`: the install has no secret of that name. */
  deleteSecret(installId: string, name: string): Promise<DeleteSecretResult>;
  getSecret(installId: string, name: string): Promise<SecretLookup>;
  /** Names of the install's secrets that have not expired, sorted. */
  listSecretNames(installId: string): Promise<string[]>;
  deleteSecrets(installId: string): Promise<void>;
  /** Whether any install has a stored secret (the service refuses to start then without a key). */
  hasAnySecrets(): Promise<boolean>;
}

const ALGORITHM = 'aes-256-gcm';
const IV_BYTES = 12;

function aad(installId: string, name: string): Buffer {
  // NUL separators: neither id nor name can shift bytes into the other and still match.
  return Buffer.from(`alga-runner/secret/v1\u0000${installId}\u0000${name}`, 'utf8');
}

function seal(key: Buffer, installId: string, name: string, plaintext: string) {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv(ALGORITHM, key, iv);
  cipher.setAAD(aad(installId, name));
  const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return { iv, ciphertext, auth_tag: cipher.getAuthTag() };
}

function open(key: Buffer, installId: string, name: string, row: { iv: Buffer; ciphertext: Buffer; auth_tag: Buffer }): string | null {
  try {
    const decipher = createDecipheriv(ALGORITHM, key, row.iv);
    decipher.setAAD(aad(installId, name));
    decipher.setAuthTag(row.auth_tag);
    return Buffer.concat([decipher.update(row.ciphertext), decipher.final()]).toString('utf8');
  } catch {
    return null;
  }
}

// The reads, as queries: the store runs them here, a guest worker compiles the same ones for its
// own read-only connection (createSecretsReader, sqlite-reader.ts).

function secretQuery(db: Kysely<Database>, installId: string, name: string) {
  return db.selectFrom('install_secrets').select(['iv', 'ciphertext', 'auth_tag', 'expires_at']).where('install_id', '=', installId).where('name', '=', name);
}

function namesQuery(db: Kysely<Database>, installId: string) {
  return db.selectFrom('install_secrets').select(['name', 'expires_at']).where('install_id', '=', installId).orderBy('name');
}

const notExpired = (expiresAt: number | null, now: number) => expiresAt === null || expiresAt > now;

type SealedRow = { iv: Buffer; ciphertext: Buffer; auth_tag: Buffer; expires_at: number | null };

function lookup(key: Buffer | null, installId: string, name: string, row: SealedRow | undefined, now: number): SecretLookup {
  if (!row) return { kind: 'missing' };
  if (!notExpired(row.expires_at, now)) return { kind: 'expired' };
  if (key === null) return { kind: 'undecryptable' };
  const plaintext = open(key, installId, name, row);
  return plaintext === null ? { kind: 'undecryptable' } : { kind: 'ok', value: plaintext };
}

const liveNames = (rows: { name: string; expires_at: number | null }[], now: number): string[] => rows.filter((r) => notExpired(r.expires_at, now)).map((r) => r.name);

/** `getSecret` and `listSecretNames` of SecretsStore, synchronous, over a worker's read-only SQLite connection (real time: Date.now). */
export interface SecretsReader {
  getSecret(installId: string, name: string): SecretLookup;
  listSecretNames(installId: string): string[];
}

export function createSecretsReader(reader: SqliteReader, key: Buffer | null): SecretsReader {
  const secret = reader.prepare(secretQuery);
  const names = reader.prepare(namesQuery);
  return {
    getSecret: (installId, name) => lookup(key, installId, name, secret.first(installId, name), Date.now()),
    listSecretNames: (installId) => liveNames(names.all(installId), Date.now()),
  };
}

/** Most (install, name) rows a read cache keeps. */
const READ_CACHE_ENTRIES = 10_000;

/**
 * The rows `getSecret` read, kept until the change feed names their install (every secret write
 * does, in any process: change-feed.ts) or says everything changed — the install cache's rule
 * (docs/architecture.md, "Changes across replicas"). Expiry is judged at each read, from the row.
 */
function createReadCache(feed: Pick<ChangeFeed, 'subscribe'>) {
  const rows = new ScopedReadCache<SealedRow | undefined>(feed, (c) => (c.kind === 'install' ? c.installId : null), { maxEntries: READ_CACHE_ENTRIES });
  return { read: (installId: string, name: string, query: () => Promise<SealedRow | undefined>) => rows.read(installId, name, query) };
}

/**
 * `fence`: secrets are stored only for installs in the registry; `changes`: a new secret set is
 * published on the change feed. `cacheReads`: getSecret keeps what it read until that feed names
 * the install (the service's store, whose feed hears every replica on PostgreSQL and the one
 * process on SQLite; saves a round trip, or a query, per secrets.get).
 */
export function createSecretsStore(
  db: Kysely<Database>,
  key: Buffer | null,
  now: () => number,
  writes: { fence?: InstallFence | null; changes?: ChangePublisher | null; cacheReads?: Pick<ChangeFeed, 'subscribe'> | null } = {},
): SecretsStore {
  const { fence = null, changes = null } = writes;
  const cache = writes.cacheReads ? createReadCache(writes.cacheReads) : null;
  const readRow = (installId: string, name: string) => secretQuery(db, installId, name).executeTakeFirst();
  /** `replace`: the values become the whole set; `merge`: only their names are replaced */
  const store = async (installId: string, values: Readonly<Record<string, string>>, expiresAt: Date | undefined, mode: 'replace' | 'merge'): Promise<PutSecretsResult> => {
    if (key === null) return { kind: 'no-key' };
    const createdAt = now();
    const rows = Object.entries(values).map(([name, plaintext]) => ({
      install_id: installId,
      name,
      ...seal(key, installId, name, plaintext),
      expires_at: expiresAt ? expiresAt.getTime() : null,
      created_at: createdAt,
    }));
    const generation = await db.transaction().execute(async (trx) => {
      if (fence && !(await fence.present(trx, installId))) return null;
      const removal = trx.deleteFrom('install_secrets').where('install_id', '=', installId);
      if (mode === 'replace') await removal.execute();
      else if (rows.length > 0)
        await removal
          .where(
            'name',
            'in',
            rows.map((r) => r.name),
          )
          .execute();
      if (rows.length > 0) await trx.insertInto('install_secrets').values(rows).execute();
      return changes ? await changes.installChanged(trx, installId) : 0;
    });
    if (generation === null) return { kind: 'missing' };
    changes?.committed({ kind: 'install', installId, generation });
    return { kind: 'ok' };
  };
  return {
    keyConfigured: key !== null,

    putSecrets: (installId, values, expiresAt) => store(installId, values, expiresAt, 'replace'),
    mergeSecrets: (installId, values, expiresAt) => store(installId, values, expiresAt, 'merge'),

    async deleteSecret(installId, name) {
      const outcome = await db.transaction().execute(async (trx) => {
        if (fence && !(await fence.present(trx, installId))) return { kind: 'missing' as const };
        const deleted = await trx.deleteFrom('install_secrets').where('install_id', '=', installId).where('name', '=', name).executeTakeFirst();
        if (deleted.numDeletedRows === 0n) return { kind: 'absent' as const };
        return { kind: 'ok' as const, generation: changes ? await changes.installChanged(trx, installId) : 0 };
      });
      if (outcome.kind !== 'ok') return outcome;
      changes?.committed({ kind: 'install', installId, generation: outcome.generation });
      return { kind: 'ok' };
    },

    async getSecret(installId, name) {
      const row = cache ? await cache.read(installId, name, () => readRow(installId, name)) : await readRow(installId, name);
      return lookup(key, installId, name, row, now());
    },

    async listSecretNames(installId) {
      return liveNames(await namesQuery(db, installId).execute(), now());
    },

    async deleteSecrets(installId) {
      await db.deleteFrom('install_secrets').where('install_id', '=', installId).execute();
    },

    async hasAnySecrets() {
      const row = await db.selectFrom('install_secrets').select('install_id').limit(1).executeTakeFirst();
      return row !== undefined;
    },
  };
}

/**
 * Start-up guard: stored secrets without a key would make every `secrets.get` fail at run
 * time, so the service refuses to start instead, saying what to set.
 */
export async function assertSecretsKeyPresent(secrets: SecretsStore): Promise<void> {
  if (!secrets.keyConfigured && (await secrets.hasAnySecrets())) {
    throw new SecretsKeyError('the store holds install secrets but RUNNER_SECRETS_KEY is not set; set it to the key they were written with');
  }
}
