/**
 * When a SQLite commit is on disk (the store runs in WAL mode):
 *  - `full` (default): each commit is fsynced before it returns, so an acknowledged write — a
 *    `storage.put`, an install — survives a crash of the machine, not only of the process;
 *  - `normal`: commits survive a crash of the process, and the database is never corrupted, but
 *    the last commits before a power loss or kernel crash may be lost; a commit costs no fsync
 *    (measured on the 2-core benchmark VM: `storage.put` 362 → 211 µs in a loop, 0.8-0.9 → 0.33 ms
 *    inside the engine; BENCHMARKS.md).
 */
export const SQLITE_SYNCHRONOUS = ['full', 'normal'] as const;
export type SqliteSynchronous = (typeof SQLITE_SYNCHRONOUS)[number];
