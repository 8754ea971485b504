/**
 * The better-sqlite3 build this Node.js can run. better-sqlite3 12 wraps its objects with
 * `node::ObjectWrap`, whose destructor on Node 24 asserts that an environment is current — and a
 * statement collected outside one (a GC during teardown, or from a native callback) aborts the
 * process. better-sqlite3 13 (Node-API, prebuilt binaries in the package) fixes that but crashes on
 * Node 20. Both expose the same API; 13 is installed under the alias `better-sqlite3-node-api`.
 */
import { createRequire } from 'node:module';
import type BetterSqlite3 from 'better-sqlite3';

const require = createRequire(import.meta.url);
const major = Number(process.versions.node.split('.')[0]);

export const SQLITE_DRIVER = major >= 22 ? 'better-sqlite3-node-api' : 'better-sqlite3';

export const Sqlite = require(SQLITE_DRIVER) as typeof BetterSqlite3;
export type SqliteConnection = BetterSqlite3.Database;
export type SqliteStatement = BetterSqlite3.Statement;
