/** Guest log records kept in memory (the in-memory service of the stores benchmark, memory-service.ts). */
import type { LogAppend, LogRecord, LogStore } from '../src/store/index.js';
import { DEFAULT_MAX_LOG_RECORDS_PER_INSTALL } from '../src/store/logs.js';

/** Log records in memory, newest DEFAULT_MAX_LOG_RECORDS_PER_INSTALL per install, as the store keeps them. */
export function createMemoryLogStore(now: () => number = Date.now): LogStore {
  const byInstall = new Map<string, LogRecord[]>();
  let lastId = 0;
  const record = (r: LogAppend): LogRecord => ({ ...r, id: ++lastId, ts: new Date(r.ts ?? now()).toISOString(), truncated: r.truncated === true });
  return {
    async append(records: readonly LogAppend[]) {
      for (const r of records) {
        const list = byInstall.get(r.install) ?? [];
        list.push(record(r));
        if (list.length > DEFAULT_MAX_LOG_RECORDS_PER_INSTALL) list.shift();
        byInstall.set(r.install, list);
      }
    },
    async query(q) {
      const limit = Math.max(1, Math.min(q.limit ?? 100, 10_000));
      const matching = (byInstall.get(q.installId) ?? []).filter((r) => (q.requestId === undefined || r.request_id === q.requestId) && (q.afterId === undefined || r.id > q.afterId));
      return q.afterId === undefined ? matching.slice(-limit) : matching.slice(0, limit);
    },
    async deleteInstall(installId) {
      byInstall.delete(installId);
    },
  };
}
