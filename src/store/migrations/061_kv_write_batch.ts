/**
 * PostgreSQL only: `kv_write_batch`, the storage writes of one group commit (kv-postgres.ts) in one
 * round trip. It takes the batch as parallel arrays (one element per write) and does, in the one
 * transaction of the call, what kv.ts does per write on SQLite:
 *
 *  1. the install fence (install-fence.ts), when asked: FOR KEY SHARE on every install of the
 *     batch, in id order, before any write lock — so a batch never holds a write lock while it
 *     waits for an uninstall;
 *  2. the installs' write locks (the advisory lock kv.ts takes: class 0x6b76 = 27510, hashtext of
 *     the install id), in hash order, so two batches locking several installs cannot deadlock;
 *  3. each write in its own subtransaction (BEGIN … EXCEPTION): it sees the writes before it
 *     (compare-and-swap and quotas as if they had committed one by one), and one that fails is
 *     undone alone and answered 'error'.
 *
 * One row per write, in order: w_outcome 'ok' (w_revision: the new revision), 'conflict', 'missing'
 * (delete), 'removed' (the fence: the install is gone), 'namespaces' / 'keys' / 'bytes' (a quota;
 * w_total: the bytes the install would reach) or 'error' (w_error: SQLSTATE and message). The
 * caller words the denials (kv.ts), so both stores say the same.
 */
import { sql, type Kysely } from 'kysely';
import { dialectOf } from '../dialect.js';

export async function up(db: Kysely<unknown>): Promise<void> {
  if (dialectOf(db) !== 'postgres') return;
  await sql`
create function kv_write_batch(
  p_ops text[], p_installs text[], p_namespaces text[], p_keys text[], p_values bytea[], p_expected bigint[],
  p_max_keys integer[], p_max_namespaces integer[], p_max_bytes bigint[], p_now bigint, p_fenced boolean
) returns table (w_outcome text, w_revision bigint, w_total bigint, w_error text)
language plpgsql as $fn$
declare
  present text[] := '{}';
  lock_key integer;
  i integer;
  cur_revision bigint;
  cur_size integer;
  ns_keys integer;
  used_bytes bigint;
  used_namespaces integer;
  new_size integer;
  new_total bigint;
begin
  if p_fenced then
    select coalesce(array_agg(f.id), '{}') into present
      from (select ins.id from installs ins where ins.id = any(p_installs) order by ins.id for key share) f;
  end if;
  for lock_key in select distinct hashtext(x) from unnest(p_installs) x order by 1 loop
    perform pg_advisory_xact_lock(27510, lock_key);
  end loop;
  for i in 1 .. coalesce(array_length(p_ops, 1), 0) loop
    w_outcome := null; w_revision := null; w_total := null; w_error := null;
    begin
      if p_fenced and not (p_installs[i] = any(present)) then
        w_outcome := 'removed';
      else
        select e.revision, e.size into cur_revision, cur_size from kv_entries e
          where e.install_id = p_installs[i] and e.namespace = p_namespaces[i] and e.key = p_keys[i];
        select n.key_count into ns_keys from kv_namespaces n where n.install_id = p_installs[i] and n.namespace = p_namespaces[i];
        select u.total_bytes, u.namespace_count into used_bytes, used_namespaces from kv_usage u where u.install_id = p_installs[i];
        used_bytes := coalesce(used_bytes, 0);
        used_namespaces := coalesce(used_namespaces, 0);
        if p_ops[i] = 'put' then
          new_size := octet_length(p_values[i]);
          new_total := used_bytes - coalesce(cur_size, 0) + new_size;
          if p_expected[i] is not null and p_expected[i] <> coalesce(cur_revision, 0) then
            w_outcome := 'conflict';
          elsif cur_revision is null and ns_keys is null and used_namespaces >= p_max_namespaces[i] then
            w_outcome := 'namespaces';
          elsif cur_revision is null and ns_keys is not null and ns_keys >= p_max_keys[i] then
            w_outcome := 'keys';
          elsif new_total > p_max_bytes[i] then
            w_outcome := 'bytes';
            w_total := new_total;
          else
            w_revision := coalesce(cur_revision, 0) + 1;
            if cur_revision is not null then
              update kv_entries e set value = p_values[i], size = new_size, revision = w_revision, updated_at = p_now
                where e.install_id = p_installs[i] and e.namespace = p_namespaces[i] and e.key = p_keys[i];
            else
              insert into kv_entries (install_id, namespace, key, value, size, revision, updated_at)
                values (p_installs[i], p_namespaces[i], p_keys[i], p_values[i], new_size, w_revision, p_now);
              insert into kv_namespaces as n (install_id, namespace, key_count) values (p_installs[i], p_namespaces[i], 1)
                on conflict (install_id, namespace) do update set key_count = n.key_count + 1;
            end if;
            insert into kv_usage (install_id, total_bytes, namespace_count)
              values (p_installs[i], new_total, used_namespaces + case when cur_revision is null and ns_keys is null then 1 else 0 end)
              on conflict (install_id) do update set total_bytes = excluded.total_bytes, namespace_count = excluded.namespace_count;
            w_outcome := 'ok';
          end if;
        elsif cur_revision is null then
          w_outcome := 'missing';
        else
          delete from kv_entries e where e.install_id = p_installs[i] and e.namespace = p_namespaces[i] and e.key = p_keys[i];
          if ns_keys = 1 then
            delete from kv_namespaces n where n.install_id = p_installs[i] and n.namespace = p_namespaces[i];
          else
            update kv_namespaces n set key_count = n.key_count - 1 where n.install_id = p_installs[i] and n.namespace = p_namespaces[i];
          end if;
          insert into kv_usage (install_id, total_bytes, namespace_count)
            values (p_installs[i], used_bytes - cur_size, used_namespaces - case when ns_keys = 1 then 1 else 0 end)
            on conflict (install_id) do update set total_bytes = excluded.total_bytes, namespace_count = excluded.namespace_count;
          w_outcome := 'ok';
        end if;
      end if;
    exception when others then
      w_outcome := 'error';
      w_revision := null;
      w_total := null;
      w_error := sqlstate || ': ' || sqlerrm;
    end;
    return next;
  end loop;
end
$fn$`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  if (dialectOf(db) !== 'postgres') return;
  await sql`drop function kv_write_batch(text[], text[], text[], text[], bytea[], bigint[], integer[], integer[], bigint[], bigint, boolean)`.execute(db);
}
