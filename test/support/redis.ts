/** Shared test helpers: the test Redis URL, a client, and a unique key prefix per test file. */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';

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
