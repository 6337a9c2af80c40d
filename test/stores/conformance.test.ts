/**
 * The Store conformance suite, run unchanged against every store: the in-memory store and the Redis
 * store through every client of this run (ioredis 6 and 5, node-redis 6 and 5: test/support/redis-clients.ts)
 * on standalone Redis (a real Redis at REDIS_URL, a fresh key prefix per case). The 3-primary Cluster
 * runs in cluster.test.ts.
 */
import { afterAll, beforeAll, describe, it } from 'vitest';
import { MemoryStore } from '../../src/stores/memory.js';
import { RedisStore } from '../../src/stores/redis/store.js';
import { storeConformanceCases } from '../../src/testing/index.js';
import { clientKinds, type TestClient } from '../support/redis-clients.js';
import { REDIS_URL, deletePrefix, testRedis, uniquePrefix } from '../support/redis.js';

const admin = testRedis();
afterAll(() => admin.quit());

describe.concurrent('Store conformance: memory', () => {
  for (const c of storeConformanceCases({ create: () => new MemoryStore(), destroy: (s) => s.close?.() }))
    it(c.name, c.run, c.timeoutMs);
});

for (const kind of clientKinds()) {
  describe.concurrent(`Store conformance: redis (${kind.name})`, () => {
    let client: TestClient;
    beforeAll(async () => {
      client = await kind.standalone(REDIS_URL);
    });
    afterAll(() => client?.close());
    const cases = storeConformanceCases({
      create: () => new RedisStore({ driver: client.driver(), keyPrefix: uniquePrefix('conf') }),
      destroy: async (s) => {
        await deletePrefix(admin, (s as RedisStore).keys.prefix);
        await s.close?.();
      },
    });
    for (const c of cases) it(c.name, c.run, c.timeoutMs);
  });
}
