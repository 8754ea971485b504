/**
 * A private PostgreSQL cluster for tests that stop, restart or break the server (the machine's
 * shared server must never be touched): initdb into a temporary directory, the postmaster on its
 * own free port with its socket in that directory, pg_ctl to stop/start/restart it.
 *
 * initdb and postgres refuse to run as root: when the tests run as root, every server command runs
 * as the unprivileged `postgres` user (runuser, else setpriv), which owns the directory. The
 * binaries are TEST_POSTGRES_BIN, else the newest /usr/lib/postgresql/<version>/bin, else PATH.
 * Missing binaries fail the run when CI=true; locally the test is skipped with the reason.
 */
import { execFile, execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const SERVER_TOOLS = ['initdb', 'pg_ctl', 'postgres', 'pg_isready'] as const;
const SERVER_USER = 'postgres';

function findBinDir(): string | null {
  const candidates: string[] = [];
  if (process.env.TEST_POSTGRES_BIN) candidates.push(process.env.TEST_POSTGRES_BIN);
  const root = '/usr/lib/postgresql';
  if (existsSync(root)) {
    const versions = readdirSync(root)
      .filter((v) => /^\d+(\.\d+)?$/.test(v))
      .sort((a, b) => Number(b) - Number(a));
    candidates.push(...versions.map((v) => join(root, v, 'bin')));
  }
  for (const dir of (process.env.PATH ?? '').split(':').filter(Boolean)) candidates.push(dir);
  return candidates.find((dir) => SERVER_TOOLS.every((tool) => existsSync(join(dir, tool)))) ?? null;
}

interface RunAs {
  /** prefix for server commands ([] when no switch is needed) */
  readonly prefix: string[];
  readonly uid: number | null;
  readonly gid: number | null;
}

function findRunAs(): RunAs | string {
  if (process.getuid?.() !== 0) return { prefix: [], uid: null, gid: null };
  let uid: number;
  let gid: number;
  try {
    uid = Number(execFileSync('id', ['-u', SERVER_USER], { encoding: 'utf8' }).trim());
    gid = Number(execFileSync('id', ['-g', SERVER_USER], { encoding: 'utf8' }).trim());
  } catch {
    return `running as root, and there is no "${SERVER_USER}" user to run initdb and postgres as`;
  }
  for (const dir of ['/usr/sbin', '/sbin', '/usr/bin', '/bin']) {
    if (existsSync(join(dir, 'runuser'))) return { prefix: [join(dir, 'runuser'), '-u', SERVER_USER, '--'], uid, gid };
  }
  for (const dir of ['/usr/bin', '/bin']) {
    if (existsSync(join(dir, 'setpriv'))) return { prefix: [join(dir, 'setpriv'), `--reuid=${uid}`, `--regid=${gid}`, '--init-groups', '--'], uid, gid };
  }
  return 'running as root, and neither runuser nor setpriv is there to drop privileges for initdb and postgres';
}

const binDir = findBinDir();
const runAs = findRunAs();

/** false when a private cluster can be made here; else why not (a node:test `skip` value). Throws under CI. */
export function privatePostgresSkipReason(): string | false {
  const why = binDir === null ? `the PostgreSQL server binaries (${SERVER_TOOLS.join(', ')}) are not installed` : typeof runAs === 'string' ? runAs : null;
  if (why === null) return false;
  if (process.env.CI === 'true') throw new Error(`${why} and CI=true: a private PostgreSQL cluster is required`);
  return `${why}; set CI=true to make this fail`;
}

export interface PrivatePostgres {
  /** postgres:// URL of the cluster's `postgres` database, user postgres, trust auth */
  readonly url: string;
  readonly port: number;
  readonly dir: string;
  /** `pg_ctl restart -m fast`: sessions are terminated (57P01), the server is back when this resolves */
  restart(): Promise<void>;
  /** `pg_ctl stop -m fast` and wait until the postmaster is gone */
  stop(): Promise<void>;
  /** `pg_ctl start` and wait until it accepts connections */
  start(): Promise<void>;
  /** `pg_ctl stop -m immediate`: the server's crash (no checkpoint, WAL buffers not written); `start` then recovers from the WAL on disk */
  crash(): Promise<void>;
  /** pg_isready: accepting connections now? */
  isReady(): Promise<boolean>;
  /** stop the server however it is (immediate shutdown, else kill) and remove the directory; idempotent */
  destroy(): Promise<void>;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (typeof address !== 'object' || address === null) throw new Error('no port');
  return address.port;
}

const live = new Set<PrivatePostgres>();
// a test process that ends without its cleanup (a crash, a timeout) still takes its servers down
process.once('exit', () => {
  for (const cluster of live) (cluster as unknown as { destroySync(): void }).destroySync();
});

export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  if (privatePostgresSkipReason() !== false || binDir === null || typeof runAs === 'string') throw new Error('no private PostgreSQL here');
  const bin = binDir;
  const as = runAs;
  const dir = mkdtempSync(join(tmpdir(), 'private-pg-'));
  if (as.uid !== null && as.gid !== null) chownSync(dir, as.uid, as.gid);
  const data = join(dir, 'data');
  const log = join(dir, 'server.log');
  const server = async (tool: string, args: string[], timeoutMs = 60_000) => {
    const [command, ...prefixArgs] = [...as.prefix, join(bin, tool)];
    try {
      return await run(command!, [...prefixArgs, ...args], { cwd: dir, timeout: timeoutMs, env: { ...process.env, LC_ALL: 'C', PGTZ: 'UTC' } });
    } catch (e) {
      const tail = existsSync(log) ? readFileSync(log, 'utf8').split('\n').slice(-20).join('\n') : '';
      const { stdout, stderr } = e as { stdout?: string; stderr?: string };
      throw new Error(`${tool} ${args.join(' ')} failed: ${e instanceof Error ? e.message : String(e)}\n${stdout ?? ''}${stderr ?? ''}\nserver log:\n${tail}`);
    }
  };

  let port = 0;
  const options = () => `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c max_connections=40 -c shared_buffers=16MB`;
  let destroyed = false;
  const cluster: PrivatePostgres & { destroySync(): void } = {
    get url() {
      return `postgres://postgres@127.0.0.1:${port}/postgres`;
    },
    get port() {
      return port;
    },
    dir,
    async restart() {
      await server('pg_ctl', ['restart', '-D', data, '-m', 'fast', '-w', '-t', '30', '-l', log, '-o', options()]);
    },
    async stop() {
      await server('pg_ctl', ['stop', '-D', data, '-m', 'fast', '-w', '-t', '30']);
    },
    async start() {
      await server('pg_ctl', ['start', '-D', data, '-w', '-t', '30', '-l', log, '-o', options()]);
    },
    async crash() {
      await server('pg_ctl', ['stop', '-D', data, '-m', 'immediate', '-w', '-t', '30']);
    },
    async isReady() {
      try {
        await run(join(bin, 'pg_isready'), ['-q', '-h', '127.0.0.1', '-p', String(port), '-t', '2'], { timeout: 5_000 });
        return true;
      } catch {
        return false;
      }
    },
    async destroy() {
      if (destroyed) return;
      destroyed = true;
      live.delete(cluster);
      await server('pg_ctl', ['stop', '-D', data, '-m', 'immediate', '-w', '-t', '20'], 30_000).catch(() => killPostmaster(data));
      rmSync(dir, { recursive: true, force: true });
    },
    destroySync() {
      if (destroyed) return;
      destroyed = true;
      killPostmaster(data);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  live.add(cluster);
  try {
    await server('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8', '--locale=C'], 120_000);
    // another process may take the free port before the postmaster binds it: try a few
    for (let attempt = 1; ; attempt++) {
      port = await freePort();
      try {
        await cluster.start();
        break;
      } catch (e) {
        if (attempt >= 3) throw e;
      }
    }
    return cluster;
  } catch (e) {
    await cluster.destroy();
    throw e;
  }
}

/** The postmaster's pid from its lock file, sent SIGQUIT (immediate shutdown); nothing if it is not running. */
function killPostmaster(data: string): void {
  try {
    const pid = Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0]);
    if (Number.isInteger(pid) && pid > 0) process.kill(pid, 'SIGQUIT');
  } catch {
    // no lock file, or the process is gone
  }
}
