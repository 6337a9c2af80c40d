/**
 * The stores every adapter's contract test runs on: the memory store, and the Redis store at REDIS_URL
 * (one shared ioredis client, a unique key prefix per case, deleted after it). The outage store is an
 * IoredisStore on a loopback port where nothing listens (connections are refused at once).
 *
 * ```ts
 * for (const [storeName, stores] of contractStores())
 *   describe.concurrent(`fastify 5 / ${storeName}`, () => { for (const c of httpContractCases(harness, stores)) it(c.name, c.run, c.timeoutMs); });
 * ```
 */
import { afterAll } from 'vitest';
import { MemoryStore } from '../../src/stores/memory.js';
import { IoredisStore } from '../../src/stores/redis/ioredis.js';
import type { HttpContractStores } from '../../src/testing/index.js';
import { deletePrefix, testRedis, uniquePrefix } from './redis.js';
import { freePort } from './redis-server.js';

/** A real ioredis store whose Redis cannot be reached: every call fails with StoreUnavailableError. */
export async function outageStore(): Promise<IoredisStore> {
  return new IoredisStore({
    url: `redis://127.0.0.1:${await freePort()}`,
    keyPrefix: uniquePrefix('outage'),
    commandTimeoutMs: 300,
  });
}

/**
 * `[storeName, stores]` pairs for `httpContractCases`: `memory` and `redis`. Call it at the top level of
 * a test file (it registers an `afterAll` that closes its Redis client).
 */
export function contractStores(): [storeName: string, stores: HttpContractStores][] {
  const redis = testRedis();
  afterAll(() => redis.quit());
  return [
    ['memory', { store: { create: () => new MemoryStore(), destroy: (s) => s.close?.() }, outageStore }],
    [
      'redis',
      {
        store: {
          create: () => new IoredisStore({ client: redis, keyPrefix: uniquePrefix('http') }),
          destroy: (s) => deletePrefix(redis, (s as IoredisStore).keys.prefix),
        },
        outageStore,
      },
    ],
  ];
}
