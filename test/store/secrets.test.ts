import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { sql } from 'kysely';
import { backends, dumpAllRows, manualClock } from './backends.js';
import { SecretsKeyError, assertSecretsKeyPresent, parseSecretsKey } from '../../src/store/index.js';
import type { Store } from '../../src/store/index.js';

describe('parseSecretsKey', () => {
  const raw = randomBytes(32);

  it('accepts 64 hex characters, base64 and base64url of 32 bytes, and a 32-byte Buffer', () => {
    for (const input of [raw.toString('hex'), raw.toString('hex').toUpperCase(), raw.toString('base64'), raw.toString('base64url'), ` ${raw.toString('base64')}\n`, raw]) {
      const parsed = parseSecretsKey(input);
      assert.equal(parsed.kind, 'ok', String(input));
      assert.ok(parsed.kind === 'ok' && parsed.key.equals(raw));
    }
  });

  it('refuses other lengths and other text with a reason that does not echo the value', () => {
    const cases = [randomBytes(31).toString('base64'), randomBytes(33).toString('hex'), 'correct horse battery staple', '', randomBytes(16)];
    for (const input of cases) {
      const parsed = parseSecretsKey(input);
      assert.equal(parsed.kind, 'invalid', String(input));
      assert.ok(parsed.kind === 'invalid');
      assert.match(parsed.reason, /32 bytes/);
      if (typeof input === 'string' && input.length > 0) assert.ok(!parsed.reason.includes(input));
    }
  });
});

for (const backend of backends('secrets')) {
  describe(`secrets store (${backend.name})`, { skip: backend.skip }, () => {
    const key = randomBytes(32);
    const clock = manualClock();
    let store: Store;

    before(async () => {
      store = await backend.open({ secretsKey: key.toString('base64'), now: clock.now });
    });
    after(async () => {
      await store?.close();
      await backend.dispose();
    });

    it('round-trips values; unknown names are missing; names list sorted', async () => {
      await store.secrets.putSecrets('inst-a', { zeta: 'z-value', api_key: 'sk-live-123', empty: '' });
      assert.deepEqual(await store.secrets.getSecret('inst-a', 'api_key'), { kind: 'ok', value: 'sk-live-123' });
      assert.deepEqual(await store.secrets.getSecret('inst-a', 'empty'), { kind: 'ok', value: '' });
      assert.deepEqual(await store.secrets.getSecret('inst-a', 'nope'), { kind: 'missing' });
      assert.deepEqual(await store.secrets.getSecret('inst-other', 'api_key'), { kind: 'missing' });
      assert.deepEqual(await store.secrets.listSecretNames('inst-a'), ['api_key', 'empty', 'zeta']);
      assert.deepEqual(await store.secrets.listSecretNames('inst-other'), []);
    });

    it('putSecrets replaces the install’s whole set', async () => {
      await store.secrets.putSecrets('inst-b', { one: '1', two: '2' });
      await store.secrets.putSecrets('inst-b', { two: 'II', three: '3' });
      assert.deepEqual(await store.secrets.listSecretNames('inst-b'), ['three', 'two']);
      assert.deepEqual(await store.secrets.getSecret('inst-b', 'one'), { kind: 'missing' });
      assert.deepEqual(await store.secrets.getSecret('inst-b', 'two'), { kind: 'ok', value: 'II' });
    });

    it('mergeSecrets sets only the names given; deleteSecret removes one, absent when there is none', async () => {
      await store.secrets.putSecrets('inst-m', { one: '1', two: '2' });
      assert.deepEqual(await store.secrets.mergeSecrets('inst-m', { two: 'II', three: '3' }), { kind: 'ok' });
      assert.deepEqual(await store.secrets.listSecretNames('inst-m'), ['one', 'three', 'two']);
      assert.deepEqual(await store.secrets.getSecret('inst-m', 'two'), { kind: 'ok', value: 'II' });
      assert.deepEqual(await store.secrets.getSecret('inst-m', 'one'), { kind: 'ok', value: '1' });
      assert.deepEqual(await store.secrets.mergeSecrets('inst-m', {}), { kind: 'ok' });
      assert.deepEqual(await store.secrets.listSecretNames('inst-m'), ['one', 'three', 'two'], 'an empty merge changes nothing');
      assert.deepEqual(await store.secrets.deleteSecret('inst-m', 'one'), { kind: 'ok' });
      assert.deepEqual(await store.secrets.deleteSecret('inst-m', 'one'), { kind: 'absent' });
      assert.deepEqual(await store.secrets.listSecretNames('inst-m'), ['three', 'two']);
    });

    it('an expired secret answers expired and leaves the names list', async () => {
      await store.secrets.putSecrets('inst-c', { token: 't0k3n' }, new Date(clock.now() + 60_000));
      assert.deepEqual(await store.secrets.getSecret('inst-c', 'token'), { kind: 'ok', value: 't0k3n' });
      clock.advance(60_000);
      assert.deepEqual(await store.secrets.getSecret('inst-c', 'token'), { kind: 'expired' });
      assert.deepEqual(await store.secrets.listSecretNames('inst-c'), []);
    });

    it('each row has its own IV: equal values give different ciphertexts', async () => {
      await store.secrets.putSecrets('inst-d', { a: 'same', b: 'same' });
      const rows = await store.db.selectFrom('install_secrets').select(['iv', 'ciphertext']).where('install_id', '=', 'inst-d').execute();
      assert.equal(rows.length, 2);
      assert.equal(rows[0]?.iv.length, 12);
      assert.ok(!rows[0]?.iv.equals(rows[1]!.iv));
      assert.ok(!rows[0]?.ciphertext.equals(rows[1]!.ciphertext));
    });

    it('a row moved to another install or name, or altered, does not decrypt there', async () => {
      await store.secrets.putSecrets('inst-e', { api_key: 'moved-secret', other: 'x' });
      const row = await store.db.selectFrom('install_secrets').selectAll().where('install_id', '=', 'inst-e').where('name', '=', 'api_key').executeTakeFirstOrThrow();
      await store.db
        .insertInto('install_secrets')
        .values({ ...row, install_id: 'inst-thief' })
        .execute();
      assert.deepEqual(await store.secrets.getSecret('inst-thief', 'api_key'), { kind: 'undecryptable' });
      await store.db.updateTable('install_secrets').set({ iv: row.iv, ciphertext: row.ciphertext, auth_tag: row.auth_tag }).where('install_id', '=', 'inst-e').where('name', '=', 'other').execute();
      assert.deepEqual(await store.secrets.getSecret('inst-e', 'other'), { kind: 'undecryptable' });
      const flipped = Buffer.from(row.ciphertext);
      flipped[0] = (flipped[0] ?? 0) ^ 1;
      await store.db.updateTable('install_secrets').set({ ciphertext: flipped }).where('install_id', '=', 'inst-e').where('name', '=', 'api_key').execute();
      assert.deepEqual(await store.secrets.getSecret('inst-e', 'api_key'), { kind: 'undecryptable' });
    });

    it('no stored row, database file or error message contains a secret’s plaintext', async () => {
      const plaintext = `pt-${randomBytes(12).toString('hex')}`;
      await store.secrets.putSecrets('inst-f', { api_key: plaintext, copy: plaintext });
      assert.deepEqual(await store.secrets.getSecret('inst-f', 'api_key'), { kind: 'ok', value: plaintext });
      const encodings = [plaintext, Buffer.from(plaintext).toString('hex'), Buffer.from(plaintext).toString('base64')];
      const dump = await dumpAllRows(store);
      assert.ok(dump.includes('inst-f'), 'the dump must cover the secrets table');
      for (const e of encodings) assert.ok(!dump.includes(e), 'plaintext found in a stored row');
      if (store.dialect === 'sqlite') {
        await sql`pragma wal_checkpoint(FULL)`.execute(store.db);
        for (const file of readdirSync(backend.options.dataDir)) {
          const raw = readFileSync(join(backend.options.dataDir, file)).toString('latin1');
          for (const e of encodings) assert.ok(!raw.includes(e), `plaintext found in ${file}`);
        }
      }
      // a store opened with the wrong key fails to read it, and says nothing about the value
      const wrong = await backend.open({ secretsKey: randomBytes(32) });
      try {
        const lookup = await wrong.secrets.getSecret('inst-f', 'api_key');
        assert.deepEqual(lookup, { kind: 'undecryptable' });
        assert.ok(!JSON.stringify(lookup).includes(plaintext));
      } finally {
        await wrong.close();
      }
    });

    it('opening a store that holds secrets without a key, or with a malformed key, fails with a clear error', async () => {
      await store.secrets.putSecrets('inst-g', { k: 'v' });
      await assert.rejects(backend.open(), (e: unknown) => {
        assert.ok(e instanceof SecretsKeyError);
        assert.match(e.message, /RUNNER_SECRETS_KEY is not set/);
        return true;
      });
      await assert.rejects(backend.open({ secretsKey: 'too-short' }), (e: unknown) => {
        assert.ok(e instanceof SecretsKeyError);
        assert.ok(!e.message.includes('too-short'));
        return true;
      });
      assert.equal(await store.secrets.hasAnySecrets(), true);
      await assertSecretsKeyPresent(store.secrets);
    });
  });
}

describe('secrets without a key on an empty store', () => {
  const [sqlite] = backends('secretsnokey');
  after(() => sqlite!.dispose());

  it('opens, reports no key, refuses writes and has no secrets', async () => {
    const store = await sqlite!.open();
    try {
      assert.equal(store.secrets.keyConfigured, false);
      assert.deepEqual(await store.secrets.putSecrets('i', { a: 'b' }), { kind: 'no-key' });
      assert.equal(await store.secrets.hasAnySecrets(), false);
      await assertSecretsKeyPresent(store.secrets);
    } finally {
      await store.close();
    }
  });
});
