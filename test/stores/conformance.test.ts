/**
 * The Store conformance suite, run unchanged against every store: the in-memory store and the Redis
 * store (ioredis, standalone, a real Redis at REDIS_URL, a fresh key prefix per case).
 */
import { afterAll, describe, it } from 'vitest';
import { MemoryStore } from '../../src/stores/memory.js';
import { IoredisStore } from '../../src/stores/redis/ioredis.js';
import { storeConformanceCases, type StoreFactory } from '../../src/testing/index.js';
import { deletePrefix, testRedis, uniquePrefix } from '../support/redis.js';

const redis = testRedis();
afterAll(() => redis.quit());

const factories: Record<string, StoreFactory> = {
  memory: {
    create: () => new MemoryStore(),
    destroy: (s) => s.close?.(),
  },
  'redis (ioredis)': {
    create: () => new IoredisStore({ client: redis, keyPrefix: uniquePrefix('conf') }),
    destroy: (s) => deletePrefix(redis, (s as IoredisStore).keys.prefix),
  },
};

for (const [name, factory] of Object.entries(factories)) {
  describe.concurrent(`Store conformance: ${name}`, () => {
    for (const c of storeConformanceCases(factory)) it(c.name, c.run, c.timeoutMs);
  });
}
