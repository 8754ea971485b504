/** fsync a file on libuv's thread pool (the event loop goes on meanwhile). */
import { open } from 'node:fs/promises';

export async function syncFile(path: string): Promise<void> {
  // opened each time: a handle kept open would keep syncing an old inode if SQLite ever recreated the file
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
