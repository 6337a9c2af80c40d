/** Shared test helpers: the test Redis URL, a client, and a unique key prefix per test file. */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { pieceFields, storedRecordText } from '../../src/stores/redis/store.js';

/** The Redis the tests use (set by test/global-setup.ts). */
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A fresh key prefix, so tests never touch other data on a shared Redis. */
export function uniquePrefix(label = 't'): string {
  return `rmt-test:${label}:${randomBytes(6).toString('hex')}:`;
}

/** A new ioredis client on the test Redis; close it in afterAll. */
export function testRedis(): Redis {
  return new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
}

/** Deletes every key under `prefix` (SCAN, never KEYS). */
export async function deletePrefix(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await redis.unlink(...keys);
  } while (cursor !== '0');
}

/** A 32-byte test secret (not for production). */
export const TEST_SECRET = 'test-secret-test-secret-test-secret-0123456789';

/** The field names of the other pieces of the record stored under `field` in `hash` (none: stored whole, or missing). */
export async function pieceFieldsOf(redis: Pick<Redis, 'hget'>, hash: string, field: string): Promise<string[]> {
  const v = await redis.hget(hash, field);
  return v === null ? [] : (pieceFields(field, v)?.names ?? []);
}

/** A record's text put together from its stored pieces, as the scripts read it (null: missing, or a piece missing). */
export async function storedText(redis: Pick<Redis, 'hgetall'>, hash: string, field: string): Promise<string | null> {
  const all = await redis.hgetall(hash);
  return all[field] === undefined ? null : storedRecordText(field, all[field], (name) => all[name]);
}
