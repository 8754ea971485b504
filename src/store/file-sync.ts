/**
 * fsync a file on libuv's thread pool (the event loop goes on meanwhile) — as fdatasync: the
 * data and what is needed to read it back (its size), not its timestamps, which is all a WAL
 * needs and what SQLite itself calls on Linux when built with HAVE_FDATASYNC (ext4 then skips
 * a journal commit for the mtime).
 */
import { open, type FileHandle } from 'node:fs/promises';

export interface FileSync {
  /** fsync the file: everything written to it before the call is on disk when this resolves */
  sync(): Promise<void>;
  close(): Promise<void>;
}

/**
 * One handle, opened at the first sync and kept: one thread-pool round trip per sync instead of
 * three. Safe for SQLite's WAL: the file is only removed when the last connection closes, and the
 * store's own connection stays open until close().
 */
export function createFileSync(path: string): FileSync {
  let handle: Promise<FileHandle> | null = null;
  return {
    async sync() {
      handle ??= open(path, 'r');
      try {
        await (await handle).datasync();
      } catch (error) {
        handle = null; // reopened next time (e.g. the first sync ran before the file existed)
        throw error;
      }
    },
    async close() {
      const open = handle;
      handle = null;
      if (open) await (await open).close().catch(() => {});
    },
  };
}
