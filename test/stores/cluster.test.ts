/**
 * The same Store conformance suite against a real 3-primary Redis Cluster (throwaway redis-servers on
 * loopback ports, joined by redis-cli), through every client of this run (ioredis 6 and 5, node-redis 6
 * and 5). Every script must touch one hash slot only, or Redis Cluster refuses it (CROSSSLOT) or the
 * keys live on another node.
 */
import { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TokenManager } from '../../src/core/manager.js';
import { RedisStore } from '../../src/stores/redis/store.js';
import { storeConformanceCases } from '../../src/testing/index.js';
import { clientKinds, type TestClient } from '../support/redis-clients.js';
import { hasRedisServerBinary, startRedisCluster, type RedisClusterServer } from '../support/redis-server.js';
import { TEST_SECRET, uniquePrefix } from '../support/redis.js';

describe.runIf(hasRedisServerBinary())('Redis Cluster (3 primaries)', () => {
  let cluster: RedisClusterServer;
  let admin: Cluster;

  beforeAll(async () => {
    cluster = await startRedisCluster(3);
    admin = new Cluster(cluster.nodes, { redisOptions: { maxRetriesPerRequest: 1 } });
    await admin.ping();
  }, 60_000);

  afterAll(async () => {
    await admin?.quit();
    await cluster?.stop();
  });

  /** Keys under `prefix` on each primary (SCAN on every master node). */
  async function keysPerPrimary(prefix: string): Promise<number[]> {
    return Promise.all(
      admin.nodes('master').map(async (node) => {
        let cursor = '0';
        let n = 0;
        do {
          const [next, keys] = await node.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
          cursor = next;
          n += keys.length;
        } while (cursor !== '0');
        return n;
      }),
    );
  }

  for (const kind of clientKinds()) {
    describe(`through ${kind.name}`, () => {
      let client: TestClient;
      beforeAll(async () => {
        client = await kind.cluster(cluster.nodes);
      }, 30_000);
      afterAll(() => client?.close());

      it('spreads the tokens of many users over every primary (all 3); the policy check reads every primary', async () => {
        const keyPrefix = uniquePrefix('spread');
        const store = new RedisStore({ driver: client.driver(), keyPrefix, commandTimeoutMs: 5000 });
        const m = new TokenManager({ store, secret: TEST_SECRET });
        const made = await Promise.all(Array.from({ length: 60 }, (_, i) => m.create(`spread-${i}`)));
        for (const c of made) expect((await m.verify(c.token)).valid).toBe(true);
        const perPrimary = await keysPerPrimary(keyPrefix);
        expect(perPrimary.length).toBe(3);
        for (const n of perPrimary) expect(n).toBeGreaterThan(0);
        expect(perPrimary.reduce((a, b) => a + b, 0)).toBe(60); // one hash per user (tag)
        for (let i = 0; i < 60; i++) await m.revokeAll(`spread-${i}`);
        expect((await keysPerPrimary(keyPrefix)).reduce((a, b) => a + b, 0)).toBe(0);
        expect(await store.driver.evictionPolicies()).toEqual(['noeviction', 'noeviction', 'noeviction']); // CONFIG GET on every primary
        await store.checkEvictionPolicy();
        await store.ping();
        await store.close();
      });

      describe.concurrent('Store conformance', () => {
        for (const c of storeConformanceCases({
          create: () => new RedisStore({ driver: client.driver(), keyPrefix: uniquePrefix('cluster') }),
          destroy: (s) => s.close?.(),
        }))
          it(c.name, c.run, c.timeoutMs);
      });
    });
  }
});
