/**
 * The Redis the tests use (TEST_REDIS_URL, default the machine's server). Whether it answers is
 * checked once per process: with CI=true an unreachable server fails the run; locally the Redis
 * tests are skipped with the reason. Each test takes a key prefix of its own (`redisPrefix`) and
 * removes its keys afterwards (`dropPrefix`).
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';

export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

let checked: Promise<string | false> | null = null;

/** false when Redis answers; else why not (a node:test `skip` value). Throws under CI. */
export function redisSkipReason(): Promise<string | false> {
  checked ??= (async () => {
    const client = new Redis(TEST_REDIS_URL, { lazyConnect: true, connectTimeout: 3000, maxRetriesPerRequest: 0, retryStrategy: () => null });
    client.on('error', () => undefined);
    try {
      await client.connect();
      await client.ping();
      return false;
    } catch (e) {
      const why = `Redis at ${TEST_REDIS_URL} is unreachable (${e instanceof Error ? e.message : String(e)})`;
      if (process.env.CI === 'true') throw new Error(`${why} and CI=true`);
      return `${why}; set CI=true to make this fail`;
    } finally {
      client.disconnect();
    }
  })();
  return checked;
}

/** A key prefix no other test uses. */
export function redisPrefix(tag: string): string {
  return `test:${tag}:${process.pid}:${randomBytes(4).toString('hex')}:`;
}

/** A plain client for checks behind the limiter's back; `quit` it at the end. */
export function redisClient(): Redis {
  return new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: 1 });
}

/** Removes every key under the prefix. */
export async function dropPrefix(client: Redis, prefix: string): Promise<void> {
  const keys = await client.keys(`${prefix}*`);
  if (keys.length) await client.del(...keys);
}
