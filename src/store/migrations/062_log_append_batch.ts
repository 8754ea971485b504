/**
 * PostgreSQL only: `log_append_batch`, the log appends of one group commit (logs.ts) in one round
 * trip — records of any installs as parallel arrays (one element per record, in order). Per install
 * of the batch, in install order (so two batches cannot deadlock):
 *
 *  - the install fence (install-fence.ts), when asked: FOR KEY SHARE on every install of the batch,
 *    in id order, first; records of an install that is gone are dropped;
 *  - the install's `log_usage` row counts the records and is locked (as every append does, logs.ts)
 *    before they are inserted, so ids grow in commit order per install; past `p_max_records` the
 *    oldest go;
 *  - in a subtransaction: an install whose records fail is undone alone (w_error), the other
 *    installs of the batch are stored.
 *
 * The transaction commits with synchronous_commit=off: log records are not storage — as on
 * SQLite (logs.ts: synchronous=NORMAL for appends) they survive the runner's crash (the server
 * has them as soon as the call returns) and a crash of the database server may drop the last
 * few, and no request waits for their WAL flush.
 *
 * One row per install: w_stored (false: fenced out, or failed with w_error).
 */
import { sql, type Kysely } from 'kysely';
import { dialectOf } from '../dialect.js';

export async function up(db: Kysely<unknown>): Promise<void> {
  if (dialectOf(db) !== 'postgres') return;
  await sql`
create function log_append_batch(
  p_installs text[], p_ts bigint[], p_levels text[], p_streams text[], p_messages text[], p_tenants text[],
  p_extensions text[], p_versions text[], p_requests text[], p_truncated integer[], p_max_records integer, p_fenced boolean
) returns table (w_install text, w_stored boolean, w_error text)
language plpgsql as $fn$
declare
  present text[] := '{}';
  target text;
  added integer;
  kept integer;
begin
  perform set_config('synchronous_commit', 'off', true);
  if p_fenced then
    select coalesce(array_agg(f.id), '{}') into present
      from (select ins.id from installs ins where ins.id = any(p_installs) order by ins.id for key share) f;
  end if;
  for target in select distinct x from unnest(p_installs) x order by 1 loop
    w_install := target;
    w_stored := false;
    w_error := null;
    if not p_fenced or target = any(present) then
      begin
        select count(*) into added from unnest(p_installs) x where x = target;
        insert into log_usage as u (install_id, record_count) values (target, added)
          on conflict (install_id) do update set record_count = u.record_count + added
          returning u.record_count into kept;
        insert into log_records (install_id, ts, level, stream, message, tenant_id, extension_id, version_id, request_id, truncated)
          select r.install_id, r.ts, r.level, r.stream, r.message, r.tenant_id, r.extension_id, r.version_id, r.request_id, r.truncated
            from unnest(p_installs, p_ts, p_levels, p_streams, p_messages, p_tenants, p_extensions, p_versions, p_requests, p_truncated)
              with ordinality as r(install_id, ts, level, stream, message, tenant_id, extension_id, version_id, request_id, truncated, ord)
            where r.install_id = target
            order by r.ord;
        if kept > p_max_records then
          delete from log_records where id in (select l.id from log_records l where l.install_id = target order by l.id limit kept - p_max_records);
          update log_usage set record_count = p_max_records where install_id = target;
        end if;
        w_stored := true;
      exception when others then
        w_stored := false;
        w_error := sqlstate || ': ' || sqlerrm;
      end;
    end if;
    return next;
  end loop;
end
$fn$`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  if (dialectOf(db) !== 'postgres') return;
  await sql`drop function log_append_batch(text[], bigint[], text[], text[], text[], text[], text[], text[], text[], integer[], integer, boolean)`.execute(db);
}
